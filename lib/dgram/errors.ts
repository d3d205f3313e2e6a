/**
 * The errors Node's `dgram` throws and emits, made to read the same: `code`, `message`, `name`,
 * `errno`, `syscall`, `address`, `port`, `String(err)` and the stack's first line. Users switch on
 * these (and Node's own tests compare messages), so they are built here, not approximated.
 */
import { getSystemErrorMap, getSystemErrorName, inspect } from 'node:util';

type ErrorBase = typeof Error | typeof TypeError | typeof RangeError;

/** A Node-style error: `code` on the object, `Name [CODE]: message` from toString and the stack. */
function nodeError<E extends Error>(Base: ErrorBase, code: string, message: string): E & { code: string } {
  const e = new Base(message) as E & { code: string };
  const name = e.name;
  // The stack's first line is written when it is first read: read it under the decorated name,
  // then let the prototype's name show again.
  e.name = `${name} [${code}]`;
  void e.stack;
  delete (e as { name?: string }).name;
  e.code = code;
  Object.defineProperty(e, 'toString', {
    value(this: Error) {
      return `${this.name} [${code}]: ${this.message}`;
    },
    enumerable: false,
    writable: true,
    configurable: true,
  });
  return e;
}

export const notRunning = (): Error => nodeError(Error, 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
export const isConnected = (): Error => nodeError(Error, 'ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
export const notConnected = (): Error => nodeError(Error, 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
export const alreadyBound = (): Error => nodeError(Error, 'ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
export const badType = (): TypeError =>
  nodeError(TypeError, 'ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6');
export const badBufferSize = (): TypeError => nodeError(TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'Buffer size must be a positive integer');
export const outOfBounds = (name: string): RangeError =>
  nodeError(RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', `"${name}" is outside of buffer bounds`);
export const missingArgs = (name: string): TypeError => nodeError(TypeError, 'ERR_MISSING_ARGS', `The "${name}" argument must be specified`);
export const invalidFdType = (type: string): TypeError => nodeError(TypeError, 'ERR_INVALID_FD_TYPE', `Unsupported fd type: ${type}`);
export const badPort = (name: string, port: unknown, allowZero: boolean): RangeError =>
  nodeError(RangeError, 'ERR_SOCKET_BAD_PORT', `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${received(port)}.`);
export const outOfRange = (name: string, range: string, value: unknown): RangeError =>
  nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${inspect(value)}`);

/** Words Node's ERR_INVALID_ARG_TYPE prints as "of type x" (the rest are classes: "an instance of X"). */
const TYPES = new Set(['string', 'function', 'number', 'object', 'boolean', 'bigint', 'symbol']);

export function invalidArgType(name: string, expected: string | string[], actual: unknown): TypeError {
  const list = Array.isArray(expected) ? expected : [expected];
  const types = list.filter((t) => TYPES.has(t.toLowerCase())).map((t) => t.toLowerCase());
  const instances = list.filter((t) => !TYPES.has(t.toLowerCase()));
  const kind = name.includes('.') ? 'property' : 'argument';
  let msg = name.endsWith(' argument') ? `The ${name} must be ` : `The "${name}" ${kind} must be `;
  if (types.length > 0) msg += `${types.length > 1 ? 'one of type' : 'of type'} ${formatList(types)}${instances.length > 0 ? ' or ' : ''}`;
  if (instances.length > 0) msg += `an instance of ${formatList(instances)}`;
  return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `${msg}. Received ${received(actual)}`);
}

function formatList(a: string[]): string {
  if (a.length <= 2) return a.join(' or ');
  return `${a.slice(0, -1).join(', ')}, or ${a[a.length - 1]}`;
}

/** How Node names a wrong value: "type number (23)", "an instance of Array", "undefined". */
function received(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  switch (typeof v) {
    case 'bigint':
      return `type bigint (${v}n)`;
    case 'number':
      return `type number (${Object.is(v, -0) ? '-0' : String(v)})`;
    case 'boolean':
      return `type boolean (${v})`;
    case 'symbol':
      return `type symbol (${String(v)})`;
    case 'function':
      return `function ${(v as { name: string }).name}`;
    case 'string': {
      const s = v.length > 28 ? `${v.slice(0, 25)}...` : v;
      return s.includes("'") ? `type string (${JSON.stringify(s)})` : `type string ('${s}')`;
    }
    default: {
      const ctor = (v as { constructor?: { name?: string } }).constructor;
      return ctor && typeof ctor.name === 'string' ? `an instance of ${ctor.name}` : inspect(v, { depth: -1 });
    }
  }
}

/** `errno` is negative (−EBADF): Node's code for it, e.g. 'EBADF'. */
const codeOf = (errno: number): string => getSystemErrorName(errno);

/** Node's ErrnoException: `setTTL EBADF`, with errno, code, syscall. */
export function errnoException(errno: number, syscall: string): Error & { errno: number; code: string; syscall: string } {
  const e = new Error(`${syscall} ${codeOf(errno)}`) as Error & { errno: number; code: string; syscall: string };
  e.errno = errno;
  e.code = codeOf(errno);
  e.syscall = syscall;
  return e;
}

export type HostPortError = Error & { errno: number; code: string; syscall: string; address: unknown; port?: unknown };

/** Node's ExceptionWithHostPort: `bind EADDRINUSE 0.0.0.0:41234`, with address and (if truthy) port. */
export function exceptionWithHostPort(errno: number, syscall: string, address: unknown, port: unknown): HostPortError {
  const code = codeOf(errno);
  const details = port && (port as number) > 0 ? ` ${address}:${port}` : address ? ` ${address}` : '';
  const e = new Error(`${syscall} ${code}${details}`) as HostPortError;
  e.errno = errno;
  e.code = code;
  e.syscall = syscall;
  e.address = address;
  if (port) e.port = port;
  return e;
}

/**
 * ERR_SOCKET_BUFFER_SIZE, a Node SystemError: the failing libuv call in `info` and, as
 * accessors, `errno` and `syscall`.
 */
export function bufferSizeError(errno: number, which: 'recv' | 'send'): Error {
  const [code, message] = getSystemErrorMap().get(errno) ?? [codeOf(errno), 'unknown error'];
  const info = { errno, code, message, syscall: `uv_${which}_buffer_size` };
  const e = nodeError(Error, 'ERR_SOCKET_BUFFER_SIZE', `Could not get or set buffer size: ${info.syscall} returned ${code} (${message})`);
  Object.defineProperty(e, 'name', { value: 'SystemError', enumerable: false, writable: true, configurable: true });
  e.stack = `SystemError [ERR_SOCKET_BUFFER_SIZE]: ${e.message}${(e.stack ?? '').slice((e.stack ?? '').indexOf('\n'))}`;
  Object.defineProperty(e, 'info', { value: info, enumerable: true, configurable: true, writable: false });
  for (const key of ['errno', 'syscall'] as const) {
    Object.defineProperty(e, key, {
      get: () => info[key],
      set: (v: never) => {
        info[key] = v;
      },
      enumerable: true,
      configurable: true,
    });
  }
  return e;
}
