/** Errors of the threads module, each with a stable `code` to switch on. */
export type ThreadsErrorCode = 'ERR_WAKER_CLOSED' | 'ERR_WAKER_BUSY' | 'ERR_QUEUE_CLOSED';

/** An Error with a `code` ('ERR_WAKER_CLOSED', 'ERR_WAKER_BUSY', 'ERR_QUEUE_CLOSED'). */
export function threadsError(code: ThreadsErrorCode, message: string): Error & { code: ThreadsErrorCode } {
  const e = new Error(message) as Error & { code: ThreadsErrorCode };
  e.code = code;
  return e;
}
