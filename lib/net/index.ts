/**
 * `net`: TCP and Unix stream sockets on the reactor, shaped like Node's `net` — sockets are
 * `stream.Duplex`es, host names resolve through `dns.lookup`, errors read as Node's.
 *
 * @example
 * ```ts
 * import { net } from 'epoll-reactor';
 * const server = net.createServer((socket) => socket.pipe(socket)); // echo
 * server.listen(7000, '127.0.0.1');
 * ```
 * @module
 */
import { type ConnectionListener, Server, type ServerOptions } from './server';
import type { ConnectOptions } from './connect';
import { normalizeArgs } from './connect';
import { Socket, type SocketOptions } from './socket';

export {
  type ConnectOptions,
  getDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout,
  type LookupFunction,
  setDefaultAutoSelectFamily,
  setDefaultAutoSelectFamilyAttemptTimeout,
} from './connect';
export type { NetSystemError } from './errors';
export { type ConnectionListener, type DropData, type ListenOptions, Server, type ServerConstructor, type ServerEvents, type ServerOptions } from './server';
export { type NodeOnread, type ReadHandler, Socket, type SocketConstructor, type SocketEvents, type SocketOptions, type WriteCallback } from './socket';

/** `createServer(options?, onConnection?)`, as Node's. */
export function createServer(connectionListener?: ConnectionListener): Server;
export function createServer(options?: ServerOptions, connectionListener?: ConnectionListener): Server;
export function createServer(options?: ServerOptions | ConnectionListener, onConnection?: ConnectionListener): Server {
  return new Server(options as ServerOptions, onConnection);
}

/** What `connect`/`createConnection` take: the socket's options and where to connect. */
export type NetConnectOpts = ConnectOptions & SocketOptions;

/**
 * `connect(port, host?, onConnect?)`, `connect(path, onConnect?)` or
 * `connect(options, onConnect?)`: a non-blocking connect, after a `dns.lookup` for a host name.
 * `'connect'` follows, or `'error'` (ECONNREFUSED, ENOTFOUND, …) then `'close'`.
 */
export function connect(options: NetConnectOpts, connectionListener?: () => void): Socket;
export function connect(port: number | string, host?: string, connectionListener?: () => void): Socket;
export function connect(path: string, connectionListener?: () => void): Socket;
export function connect(...args: unknown[]): Socket {
  const [options] = normalizeArgs(args);
  const socket = new Socket(socketOptions(options as NetConnectOpts));
  return (socket.connect as (...a: unknown[]) => Socket)(...args);
}

/** The Socket constructor's share of connect options (Node passes them all; so do we, minus what the socket takes as connect arguments). */
function socketOptions(o: NetConnectOpts): SocketOptions {
  const { signal: _signal, timeout: _timeout, ...rest } = o as NetConnectOpts & Record<string, unknown>;
  return rest as SocketOptions;
}

/** Alias of {@link connect}, as in Node. */
export const createConnection = connect;

/** Node's legacy alias of {@link Socket}. */
export const Stream = Socket;

let simultaneousAcceptsWarned = false;
/** Deprecated in Node (DEP0121; a Windows setting): a no-op that warns once, as Node's. */
export function _setSimultaneousAccepts(_handle?: unknown): void {
  if (simultaneousAcceptsWarned) return;
  simultaneousAcceptsWarned = true;
  process.emitWarning('net._setSimultaneousAccepts() is deprecated and will be removed.', 'DeprecationWarning', 'DEP0121');
}

export { isIP, isIPv4, isIPv6, SocketAddress, BlockList } from 'node:net';
