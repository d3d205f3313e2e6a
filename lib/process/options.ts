/**
 * `spawn(file, args, options)` checked and normalized as Node's normalizeSpawnArguments and
 * getValidStdio do (lib/child_process.js, lib/internal/child_process.js): the same argument
 * errors, the same defaults, env flattened to `KEY=value` pairs.
 */
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import type { Loop } from '../reactor/index';
import { codedError, invalidArgType, invalidArgValue, validSignal } from './errors';

/** One of the child's fds: a new socketpair, /dev/null, this process's own fd, or nothing. */
export type StdioSpec = { type: 'pipe' } | { type: 'ignore' } | { type: 'fd'; fd: number };

/** One of `stdio`'s entries: Node's, minus 'ipc', streams and 'overlapped'. */
export type StdioOption = 'pipe' | 'ignore' | 'inherit' | number | { fd: number } | null | undefined;

export interface SpawnOptions {
  /** The loop the child's pidfd and stdio sockets live on (default: the default loop). */
  loop?: Loop;
  /** Working directory of the child (a string, Buffer or file: URL). */
  cwd?: string | Buffer | URL;
  /** Environment of the child (default `process.env`); its `PATH` is where `file` is looked up. */
  env?: NodeJS.ProcessEnv;
  /** `argv[0]` of the child (default: `file`). */
  argv0?: string;
  /** 'pipe' (default), 'ignore', 'inherit', or one entry per fd: those, an fd number, `{ fd }`. */
  stdio?: 'pipe' | 'ignore' | 'inherit' | StdioOption[];
  /** Make the child the leader of a new session (setsid), as Node's `detached`. */
  detached?: boolean;
  /** Run `file` (with `args`) through `/bin/sh -c`, or through this shell. */
  shell?: boolean | string;
  /** Kill the child with `killSignal` after this many ms. */
  timeout?: number;
  /** Signal for `timeout` and `signal` (default 'SIGTERM'). */
  killSignal?: string | number;
  /** Kill the child (with `killSignal`) when this aborts. */
  signal?: AbortSignal;
  /** Not supported: posix_spawn cannot change the child's user or group. */
  uid?: never;
  gid?: never;
}

export interface Normalized {
  file: string;
  /** argv, argv[0] included. */
  args: string[];
  cwd: string | undefined;
  envPairs: string[];
  env: NodeJS.ProcessEnv;
  detached: boolean;
  stdio: StdioSpec[];
  timeout: number | undefined;
  killSignal: number;
  signal: AbortSignal | undefined;
}

function checkNulls(value: string, name: string): void {
  if (value.includes('\u0000')) throw invalidArgValue(name, value, 'must be a string without null bytes');
}

function validatedPath(cwd: unknown, name: string): string {
  let path: string;
  if (typeof cwd === 'string') path = cwd;
  else if (Buffer.isBuffer(cwd)) path = cwd.toString();
  else if (cwd instanceof URL) path = fileURLToPath(cwd);
  else throw invalidArgType(name, 'of type string or an instance of Buffer or URL', cwd);
  if (path.includes('\u0000')) {
    throw codedError('ERR_INVALID_ARG_VALUE', `The property '${name}' must be a string, Uint8Array, or URL without null bytes. Received ${inspect(path)}`, 'TypeError');
  }
  return path;
}

function validateBoolean(v: unknown, name: string): void {
  if (typeof v !== 'boolean') throw invalidArgType(name, 'of type boolean', v);
}

/** Node's getValidStdio, for what we support. */
export function parseStdio(stdio: unknown): StdioSpec[] {
  let list: unknown[];
  if (typeof stdio === 'string') {
    if (stdio === 'pipe' || stdio === 'overlapped' || stdio === 'ignore') list = [stdio, stdio, stdio];
    else if (stdio === 'inherit') list = [0, 1, 2];
    else throw invalidArgValue('stdio', stdio);
  } else if (Array.isArray(stdio)) {
    list = [...stdio];
  } else {
    throw invalidArgValue('stdio', stdio);
  }
  while (list.length < 3) list.push(undefined);
  return list.map((s, i): StdioSpec => {
    const entry = s ?? (i < 3 ? 'pipe' : 'ignore');
    if (entry === 'ignore') return { type: 'ignore' };
    if (entry === 'pipe' || entry === 'overlapped' || (typeof entry === 'number' && entry < 0)) return { type: 'pipe' };
    if (entry === 'inherit') return { type: 'fd', fd: i };
    // `| 0`: Node's process_wrap reads the fd with Int32Value (1.5 is fd 1).
    if (typeof entry === 'number') return { type: 'fd', fd: entry | 0 };
    if (typeof entry === 'object' && typeof (entry as { fd?: unknown }).fd === 'number') return { type: 'fd', fd: (entry as { fd: number }).fd | 0 };
    if (entry === 'ipc') throw codedError('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', "stdio 'ipc' is not supported by epoll-reactor's spawn");
    throw invalidArgValue('stdio', entry); // the entry, as Node's message shows it
  });
}

export function normalizeSpawnArguments(file: unknown, argsIn?: unknown, optionsIn?: unknown): Normalized {
  if (typeof file !== 'string') throw invalidArgType('file', 'of type string', file);
  checkNulls(file, 'file');
  if (file.length === 0) throw invalidArgValue('file', file, 'cannot be empty');
  let args: unknown[];
  let options: unknown = optionsIn;
  if (Array.isArray(argsIn)) args = [...argsIn];
  else if (argsIn === null || argsIn === undefined) args = [];
  else if (typeof argsIn !== 'object') throw invalidArgType('args', 'of type object', argsIn);
  else {
    options = argsIn;
    args = [];
  }
  args.forEach((a, i) => {
    if (typeof a === 'string') checkNulls(a, `args[${i}]`);
  });
  if (options === undefined) options = {};
  else if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidArgType('options', 'of type object', options);
  const o = options as Record<string, unknown>;
  const cwd = o.cwd !== null && o.cwd !== undefined ? validatedPath(o.cwd, 'options.cwd') : undefined;
  if (o.detached !== null && o.detached !== undefined) validateBoolean(o.detached, 'options.detached');
  for (const id of ['uid', 'gid'] as const) {
    if (o[id] !== null && o[id] !== undefined) {
      if (!Number.isInteger(o[id]) || (o[id] as number) < -(2 ** 31) || (o[id] as number) >= 2 ** 31) throw invalidArgType(`options.${id}`, 'int32', o[id]);
      throw codedError('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', `options.${id} is not supported by epoll-reactor's spawn (posix_spawn cannot change the user)`);
    }
  }
  if (o.shell !== null && o.shell !== undefined && typeof o.shell !== 'boolean' && typeof o.shell !== 'string') {
    throw invalidArgType('options.shell', 'one of type boolean or string', o.shell);
  }
  if (o.argv0 !== null && o.argv0 !== undefined) {
    if (typeof o.argv0 !== 'string') throw invalidArgType('options.argv0', 'of type string', o.argv0);
    checkNulls(o.argv0, 'options.argv0');
  }
  let argv = args.map(String);
  if (o.shell) {
    if (typeof o.shell === 'string') checkNulls(o.shell, 'options.shell');
    const command = [file, ...argv].join(' ');
    file = typeof o.shell === 'string' ? o.shell : '/bin/sh';
    argv = ['-c', command];
  }
  argv.unshift(typeof o.argv0 === 'string' ? o.argv0 : (file as string));

  const env = (o.env || process.env) as NodeJS.ProcessEnv;
  const envPairs: string[] = [];
  // for…in, as Node: values on the prototype are included.
  for (const key in env) {
    const value = env[key];
    if (value !== undefined) {
      checkNulls(key, `options.env['${key}']`);
      checkNulls(String(value), `options.env['${key}']`);
      envPairs.push(`${key}=${value}`);
    }
  }

  const timeout = o.timeout;
  if (timeout !== null && timeout !== undefined && !(Number.isInteger(timeout) && (timeout as number) >= 0)) {
    const shown = typeof timeout === 'number' ? String(timeout) : inspect(timeout);
    throw codedError('ERR_OUT_OF_RANGE', `The value of "timeout" is out of range. It must be an unsigned integer. Received ${shown}`, 'RangeError');
  }
  const signal = o.signal;
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  let killSignal = 15;
  if (o.killSignal !== undefined && o.killSignal !== null) {
    if (typeof o.killSignal !== 'string' && typeof o.killSignal !== 'number') throw invalidArgType('options.killSignal', 'one of type string or number', o.killSignal);
    killSignal = validSignal(o.killSignal);
  }
  return {
    file: file as string,
    args: argv,
    cwd,
    envPairs,
    env,
    detached: Boolean(o.detached),
    stdio: parseStdio(o.stdio || 'pipe'),
    timeout: timeout as number | undefined,
    killSignal,
    signal: signal as AbortSignal | undefined,
  };
}
