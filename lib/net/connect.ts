/**
 * Connecting, as Node's net does it: the arguments normalized and validated, the host name
 * resolved with `dns.lookup` (or `options.lookup`) — which runs on Node's thread pool; in the
 * standalone driver libuv's fd sits in our epoll set, so its answer wakes us there too — then
 * one address, or with `autoSelectFamily` each address in turn, families alternating, the next
 * one tried when an attempt fails or takes longer than its timeout (Node's happy eyeballs).
 */
import * as dns from 'node:dns';
import { isIP } from 'node:net';
import { addAbortSignal, type Duplex } from 'node:stream';
import { invalidArgType, outOfRange } from '../errors';
import * as sys from '../sys/index';
import type { Endpoint } from './address';
import { badPort, codedError } from './errors';
import type { Loop } from '../reactor/index';

/** What connecting needs of a Socket (named here, so that this file does not import socket.ts). */
export interface Connecting extends Duplex {
  fd: number;
  readonly loop: Loop;
  connecting: boolean;
  autoSelectFamilyAttemptedAddresses?: string[];
  _cancelConnect: (() => void) | null;
  _connectResult: ((error: Error) => void) | null;
  /** Opens an fd and starts a non-blocking connect; the error (fd closed) or null. */
  _connectTo(endpoint: Endpoint, local?: { address?: string; port?: number }): Error | null;
  _abandonAttempt(): void;
  setTimeout(ms: number, callback?: () => void): this;
  setNoDelay(noDelay?: boolean): this;
  setKeepAlive(enable?: boolean, initialDelayMs?: number): this;
}

export type LookupFunction = (
  hostname: string,
  options: dns.LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
) => void;

export interface ConnectOptions {
  port?: number | string;
  host?: string;
  path?: string;
  localAddress?: string;
  localPort?: number;
  family?: number | 'IPv4' | 'IPv6';
  hints?: number;
  lookup?: LookupFunction;
  /** Try each address of the name in turn (default: net.getDefaultAutoSelectFamily(), true). */
  autoSelectFamily?: boolean;
  /** ms before the next address is tried (default 250, at least 10). */
  autoSelectFamilyAttemptTimeout?: number;
  timeout?: number;
  signal?: AbortSignal;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export type ConnectArgs = unknown[];

let autoSelectFamilyDefault = nodeFlag('network-family-autoselection') !== 'false';
let autoSelectFamilyAttemptTimeoutDefault = Math.max(10, Number(nodeFlag('network-family-autoselection-attempt-timeout')) || 250);

/**
 * A Node command-line option's value ('true'/'false' for a boolean one, `--no-` for false), from
 * process.execArgv or NODE_OPTIONS, as Node's own net reads its defaults from them.
 */
function nodeFlag(name: string): string | undefined {
  let value: string | undefined;
  const args = [...(process.env.NODE_OPTIONS ?? '').split(/\s+/), ...process.execArgv];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}`) value = args[i + 1] !== undefined && /^\d+$/.test(args[i + 1]!) ? args[i + 1] : 'true';
    else if (a === `--no-${name}`) value = 'false';
    else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
  }
  return value;
}

export function getDefaultAutoSelectFamily(): boolean {
  return autoSelectFamilyDefault;
}
export function setDefaultAutoSelectFamily(value: boolean): void {
  if (typeof value !== 'boolean') throw invalidArgType('value', 'of type boolean', value);
  autoSelectFamilyDefault = value;
}
export function getDefaultAutoSelectFamilyAttemptTimeout(): number {
  return autoSelectFamilyAttemptTimeoutDefault;
}
export function setDefaultAutoSelectFamilyAttemptTimeout(value: number): void {
  checkInt32(value, 'value', 1);
  autoSelectFamilyAttemptTimeoutDefault = Math.max(10, value);
}

function checkInt32(v: unknown, name: string, min: number): void {
  if (typeof v !== 'number') throw invalidArgType(name, 'of type number', v);
  if (!Number.isInteger(v)) throw outOfRange(name, 'an integer', v);
  if (v < min || v > 2147483647) throw outOfRange(name, `>= ${min} && <= 2147483647`, v);
}

/** A string that is not a number: a pipe path (Node's isPipeName). */
export function isPipeName(s: unknown): s is string {
  return typeof s === 'string' && !(Number(s) >= 0);
}

/** Node's normalizeArgs: `[options, cb]` from `(port, host?, cb?)`, `(path, cb?)`, `(options, cb?)`. */
export function normalizeArgs(args: ConnectArgs): [Record<string, unknown>, ((...a: unknown[]) => void) | null] {
  if (args.length === 0) return [{}, null];
  const arg0 = args[0];
  let options: Record<string, unknown> = {};
  if (typeof arg0 === 'object' && arg0 !== null) options = arg0 as Record<string, unknown>;
  else if (isPipeName(arg0)) options.path = arg0;
  else {
    options.port = arg0;
    if (args.length > 1 && typeof args[1] === 'string') options.host = args[1];
  }
  const cb = args[args.length - 1];
  return [options, typeof cb === 'function' ? (cb as (...a: unknown[]) => void) : null];
}

/** Node's validatePort: a number or numeric string in [0, 65535]. */
export function validatePort(port: unknown, name = 'Port', allowZero = true): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff ||
    (+port === 0 && !allowZero)
  ) {
    throw badPort(name, port, allowZero);
  }
  return +port | 0;
}

/** Socket.prototype.connect's body, after the socket is made ready to connect again. */
export function startConnect(socket: Connecting, args: ConnectArgs): void {
  const [options, cb] = normalizeArgs(args);
  if (options.port === undefined && options.path == null) {
    throw codedError('ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified', 'TypeError');
  }
  if (cb !== null) socket.once('connect', cb);
  if (options.signal !== undefined) addAbortSignal(options.signal as AbortSignal, socket);
  // An aborted signal destroyed it already: nothing to connect.
  if (socket.destroyed) return;
  if (options.timeout) socket.setTimeout(options.timeout as number);
  if (options.noDelay !== undefined) socket.setNoDelay(Boolean(options.noDelay));
  if (options.keepAlive) socket.setKeepAlive(true, (options.keepAliveInitialDelay as number) ?? 0);
  const path = options.path;
  if (path) {
    if (typeof path !== 'string') throw invalidArgType('options.path', 'of type string', path);
    socket.connecting = true;
    const endpoint: Endpoint = { domain: sys.AF_UNIX, address: path, port: -1 };
    process.nextTick(() => {
      if (socket.connecting) attempt(socket, endpoint, undefined, (e) => socket.destroy(e));
    });
    return;
  }
  lookupAndConnect(socket, options as ConnectOptions);
}

function lookupAndConnect(socket: Connecting, options: ConnectOptions): void {
  const { localAddress, localPort } = options;
  const host = options.host || 'localhost';
  let { port, autoSelectFamily, autoSelectFamilyAttemptTimeout } = options;
  if (localAddress && !isIP(localAddress)) throw codedError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${localAddress}`, 'TypeError');
  if (localPort && typeof localPort !== 'number') throw invalidArgType('options.localPort', 'of type number', localPort);
  if (port !== undefined) {
    if (typeof port !== 'number' && typeof port !== 'string') throw invalidArgType('options.port', 'one of type number or string', port);
    port = validatePort(port);
  }
  const portNum = (port as number) | 0;
  if (autoSelectFamily != null) {
    if (typeof autoSelectFamily !== 'boolean') throw invalidArgType('options.autoSelectFamily', 'of type boolean', autoSelectFamily);
  } else autoSelectFamily = autoSelectFamilyDefault;
  if (autoSelectFamilyAttemptTimeout != null) {
    checkInt32(autoSelectFamilyAttemptTimeout, 'options.autoSelectFamilyAttemptTimeout', 1);
    autoSelectFamilyAttemptTimeout = Math.max(10, autoSelectFamilyAttemptTimeout);
  } else autoSelectFamilyAttemptTimeout = autoSelectFamilyAttemptTimeoutDefault;
  const local = localAddress || localPort ? { address: localAddress, port: localPort } : undefined;
  socket.connecting = true;
  const family = isIP(host);
  if (family !== 0) {
    process.nextTick(() => {
      if (socket.connecting) attempt(socket, ipEndpoint(host, portNum, family), local, (e) => socket.destroy(e));
    });
    return;
  }
  if (options.lookup != null && typeof options.lookup !== 'function') throw invalidArgType('options.lookup', 'of type function', options.lookup);
  const lookup = (options.lookup ?? dns.lookup) as LookupFunction;
  const want = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family as number | undefined);
  const dnsopts: dns.LookupOptions = { family: want, hints: options.hints || 0 };
  if (want !== 4 && want !== 6 && dnsopts.hints === 0) dnsopts.hints = dns.ADDRCONFIG;
  if (want !== 4 && want !== 6 && !localAddress && autoSelectFamily) {
    dnsopts.all = true;
    lookup(host, dnsopts, (err, addresses) => {
      if (!socket.connecting) return;
      if (err) {
        socket.emit('lookup', err, undefined as unknown as string, undefined as unknown as number, host);
        process.nextTick(() => socket.destroy(err));
        return;
      }
      const list = addresses as dns.LookupAddress[];
      const byFamily: dns.LookupAddress[][] = [[], []];
      let first: 4 | 6 | 0 = 0;
      for (const a of list) {
        socket.emit('lookup', null, a.address, a.family, host);
        if (!socket.connecting) return;
        if (isIP(a.address) && (a.family === 4 || a.family === 6)) {
          if (first === 0) first = a.family;
          byFamily[a.family === first ? 0 : 1]!.push(a);
        }
      }
      if (byFamily[0]!.length === 0) {
        process.nextTick(() => socket.destroy(invalidLookup(list[0], options)));
        return;
      }
      const toAttempt: dns.LookupAddress[] = [];
      for (let i = 0; i < Math.max(byFamily[0]!.length, byFamily[1]!.length); i++) {
        if (i < byFamily[0]!.length) toAttempt.push(byFamily[0]![i]!);
        if (i < byFamily[1]!.length) toAttempt.push(byFamily[1]![i]!);
      }
      if (toAttempt.length === 1) {
        const a = toAttempt[0]!;
        attempt(socket, ipEndpoint(a.address, portNum, a.family), local, (e) => socket.destroy(e));
        return;
      }
      attemptEach(socket, toAttempt, portNum, local, autoSelectFamilyAttemptTimeout as number);
    });
    return;
  }
  lookup(host, dnsopts, (err, ip, addressType) => {
    socket.emit('lookup', err, ip as string, addressType ?? null, host);
    if (!socket.connecting) return;
    if (err) {
      process.nextTick(() => socket.destroy(err));
      return;
    }
    if (!isIP(ip as string)) {
      process.nextTick(() => socket.destroy(codedError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${ip}`, 'TypeError')));
      return;
    }
    if (addressType !== 4 && addressType !== 6) {
      process.nextTick(() => socket.destroy(invalidLookup({ address: ip as string, family: addressType as number }, options)));
      return;
    }
    attempt(socket, ipEndpoint(ip as string, portNum, addressType), local, (e) => socket.destroy(e));
  });
}

function invalidLookup(first: dns.LookupAddress | undefined, options: ConnectOptions): Error {
  if (first === undefined || !isIP(first.address)) {
    return codedError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${first?.address}`, 'TypeError');
  }
  // As Node's ERR_INVALID_ADDRESS_FAMILY: the host and port are properties too.
  return Object.assign(codedError('ERR_INVALID_ADDRESS_FAMILY', `Invalid address family: ${first.family} ${options.host}:${options.port}`, 'RangeError'), {
    host: options.host,
    port: options.port,
  });
}

function ipEndpoint(address: string, port: number, family: number): Endpoint {
  return { domain: family === 6 ? sys.AF_INET6 : sys.AF_INET, address, port };
}

/** One connect attempt: `done(error)` on failure (the attempt's fd already closed). */
function attempt(socket: Connecting, endpoint: Endpoint, local: { address?: string; port?: number } | undefined, done: (e: Error) => void): void {
  const error = socket._connectTo(endpoint, local);
  if (error !== null) {
    done(error);
    return;
  }
  socket._connectResult = done;
}

/** Node's internalConnectMultiple: each address in turn, the next after a failure or a timeout. */
function attemptEach(
  socket: Connecting,
  addresses: dns.LookupAddress[],
  port: number,
  local: { address?: string; port?: number } | undefined,
  timeoutMs: number,
): void {
  const errors: Error[] = [];
  let current = 0;
  let timer: ReturnType<Connecting['loop']['setTimeout']> | null = null;
  socket.autoSelectFamilyAttemptedAddresses = [];
  const next = (): void => {
    timer?.close();
    timer = null;
    if (!socket.connecting) return;
    if (current === addresses.length) {
      socket._cancelConnect = null;
      if (errors.length === 0) socket.destroy(codedError('ERR_SOCKET_CONNECTION_TIMEOUT', 'Socket connection timeout'));
      else {
        const e = new AggregateError(errors) as AggregateError & { code?: string };
        e.code = (errors[0] as { code?: string }).code;
        socket.destroy(e);
      }
      return;
    }
    const a = addresses[current++]!;
    socket.autoSelectFamilyAttemptedAddresses!.push(`${a.address}:${port}`);
    attempt(socket, ipEndpoint(a.address, port, a.family), local, (e) => {
      errors.push(e);
      next();
    });
    if (socket.fd >= 0 && current < addresses.length) {
      timer = socket.loop.setTimeout(() => {
        timer = null;
        socket._connectResult = null;
        socket._abandonAttempt();
        next();
      }, timeoutMs);
    }
  };
  socket._cancelConnect = () => {
    timer?.close();
    timer = null;
  };
  next();
}
