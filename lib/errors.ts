/**
 * Errors the runtime itself raises (not syscalls: those are SystemErrors from `sys`), each with a
 * stable `code` to switch on, as undici and Node do.
 */
export type LoopErrorCode =
  | 'ERR_LOOP_CLOSED'
  | 'ERR_LOOP_RUNNING'
  | 'ERR_LOOP_BUSY'
  | 'ERR_LOOP_ATTACHED'
  | 'ERR_WATCHER_CLOSED';

/** An error of the loop itself (closed, already running, …): switch on its `code`. */
export class LoopError extends Error {
  readonly code: LoopErrorCode;
  constructor(code: LoopErrorCode, message: string) {
    super(message);
    this.name = 'LoopError';
    this.code = code;
  }
}

/** A TypeError naming the argument, shaped like Node's ERR_INVALID_ARG_TYPE. */
export function invalidArgType(name: string, expected: string, got: unknown): TypeError {
  const e = new TypeError(`The "${name}" argument must be ${expected}. Received ${typeof got === 'number' ? `type number (${got})` : describe(got)}`) as TypeError & {
    code: string;
  };
  e.code = 'ERR_INVALID_ARG_TYPE';
  return e;
}

/** A RangeError naming the argument, shaped like Node's ERR_OUT_OF_RANGE. */
export function outOfRange(name: string, expected: string, got: unknown): RangeError {
  const e = new RangeError(`The value of "${name}" is out of range. It must be ${expected}. Received ${describe(got)}`) as RangeError & {
    code: string;
  };
  e.code = 'ERR_OUT_OF_RANGE';
  return e;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'function') return 'function';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `type string ('${v.length > 25 ? `${v.slice(0, 25)}...` : v}')`;
  if (typeof v === 'number') return String(v);
  return `type ${typeof v} (${String(v)})`;
}
