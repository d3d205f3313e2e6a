/**
 * Node's error shapes for `child_process` (lib/internal/errors.js): argument errors carry
 * Node's `code` and message, a failed spawn reads `spawn nosuchcmd ENOENT`.
 */
import { constants } from 'node:os';
import { format, inspect } from 'node:util';
import { codedError, errnoError, invalidArgValue, type NetSystemError } from '../net/errors';

export { codedError, errnoError, invalidArgValue, type NetSystemError };

/** What Node's ERR_INVALID_ARG_TYPE says it received (determineSpecificType). */
function received(v: unknown): string {
  if (v === null || v === undefined) return `Received ${v}`;
  if (typeof v === 'function') return `Received function ${v.name}`;
  if (typeof v === 'object') {
    const name = (v as { constructor?: { name?: string } }).constructor?.name;
    return name ? `Received an instance of ${name}` : `Received ${inspect(v, { depth: -1 })}`;
  }
  let shown = inspect(v, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `Received type ${typeof v} (${shown})`;
}

/** Node's ERR_INVALID_ARG_TYPE: `expected` is the text after "must be ". */
export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  const kind = name.includes('.') ? 'property' : 'argument';
  return codedError('ERR_INVALID_ARG_TYPE', `The "${name}" ${kind} must be ${expected}. ${received(value)}`, 'TypeError') as TypeError;
}

/** Node's convertToValidSignal: a known number, or a name in any case; else ERR_UNKNOWN_SIGNAL. */
export function validSignal(signal: unknown): number {
  const table = constants.signals as Record<string, number>;
  if (typeof signal === 'number' && Object.values(table).includes(signal)) return signal;
  if (typeof signal === 'string') {
    const n = table[signal.toUpperCase()];
    if (n !== undefined) return n;
  }
  throw codedError('ERR_UNKNOWN_SIGNAL', format('Unknown signal: %s', signal), 'TypeError');
}

/** The name of a signal number ('SIGKILL' for 9), as Node's process_wrap reports it. */
export function signalName(signum: number): string {
  for (const [name, n] of Object.entries(constants.signals)) if (n === signum) return name;
  return String(signum);
}
