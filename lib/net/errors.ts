/**
 * Node's error shapes for `net`: a failed syscall reads `read ECONNRESET` or
 * `connect ECONNREFUSED 127.0.0.1:80` (lib/internal/errors.js: errnoException and
 * exceptionWithHostPort), a failed bind/listen `listen EADDRINUSE: address already in use :::80`
 * (uvExceptionWithHostPort), and argument errors carry Node's `code`.
 */
import { getSystemErrorMap, inspect } from 'node:util';

export interface NetSystemError extends Error {
  errno: number;
  code: string;
  syscall: string;
  address?: string;
  port?: number;
}

const names = getSystemErrorMap();

/** `errno` positive or negative; `syscall` as Node names it. */
export function errnoError(errno: number, syscall: string, address?: string, port?: number, withDescription = false): NetSystemError {
  const neg = errno > 0 ? -errno : errno;
  const [code, description] = names.get(neg) ?? [`Unknown system error ${neg}`, `unknown error ${neg}`];
  let details = '';
  if (port !== undefined && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  const message = withDescription ? `${syscall} ${code}: ${description}${details}` : `${syscall} ${code}${details}`;
  const e = new Error(message) as NetSystemError;
  e.errno = neg;
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined && port > 0) e.port = port;
  return e;
}

/** Turns a SystemError thrown by `sys` into Node's shape for `syscall` (others pass through). */
export function fromSys(e: unknown, syscall?: string, address?: string, port?: number, withDescription = false): Error {
  const s = e as { errno?: unknown; syscall?: unknown };
  if (e instanceof Error && typeof s.errno === 'number' && typeof s.syscall === 'string') {
    return errnoError(s.errno, syscall ?? s.syscall, address, port, withDescription);
  }
  return e as Error;
}

/** An error with Node's `code` (ERR_*): `kind` picks Error, TypeError or RangeError. */
export function codedError(code: string, message: string, kind: 'Error' | 'TypeError' | 'RangeError' = 'Error'): Error & { code: string } {
  const C = kind === 'TypeError' ? TypeError : kind === 'RangeError' ? RangeError : Error;
  const e = new C(message) as Error & { code: string };
  e.code = code;
  return e;
}

/** Node's ERR_SOCKET_BAD_PORT. */
export function badPort(name: string, port: unknown, allowZero = true): RangeError {
  const op = allowZero ? '>=' : '>';
  return codedError(
    'ERR_SOCKET_BAD_PORT',
    `${name} should be ${op} 0 and < 65536. Received ${inspectValue(port)}.`,
    'RangeError',
  ) as RangeError;
}

/** Node's ERR_INVALID_ARG_VALUE. */
export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): TypeError {
  const kind = name.includes('.') ? 'property' : 'argument';
  let shown = inspect(value);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  return codedError('ERR_INVALID_ARG_VALUE', `The ${kind} '${name}' ${reason}. Received ${shown}`, 'TypeError') as TypeError;
}

function inspectValue(v: unknown): string {
  if (typeof v === 'string') return `type string ('${v}')`;
  if (typeof v === 'number') return `type number (${v})`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'function') return `function ${v.name}`;
  if (typeof v === 'object') return `an instance of ${v.constructor?.name ?? 'Object'}`;
  return `type ${typeof v} (${String(v)})`;
}
