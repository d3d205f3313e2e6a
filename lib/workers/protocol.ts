/**
 * The messages between a pool's primary and its workers, and how a worker knows it is one.
 * Every message carries the {@link TAG} key, so a worker process's own `process.send` traffic
 * and ours never mix.
 */
export const TAG = 'epollReactorWorkers';

/** The environment variable that makes a forked child a pool worker (its value: the worker id). */
export const ENV_ID = 'EPOLL_REACTOR_WORKER_ID';

/** Where a worker listens (`server.address()`), as the primary reports it. */
export type WorkerAddress = { address: string; port: number; family: string } | string | null;

/** Worker → primary. */
export type FromWorker =
  | { [TAG]: 'ready'; address: WorkerAddress }
  | { [TAG]: 'failed'; message: string; code?: string }
  | { [TAG]: 'stats'; stats: Record<string, number> };

/** Primary → worker. `delay`: ms to keep serving (failing health checks) before closing. */
export type ToWorker = { [TAG]: 'drain'; delay: number };

export function isFromWorker(m: unknown): m is FromWorker {
  return m !== null && typeof m === 'object' && TAG in m;
}
