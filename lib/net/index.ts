/**
 * `net`: TCP and Unix stream sockets on the reactor, shaped like Node's `net`.
 *
 * @example
 * ```ts
 * import { net } from 'epoll-reactor';
 * const server = net.createServer((socket) => {
 *   socket.on('data', (chunk) => socket.write(chunk)); // echo
 * });
 * server.listen(7000, '127.0.0.1');
 * ```
 * @module
 */
import { invalidArgType } from '../errors';
import { checkPort, ipEndpoint, unixEndpoint } from './address';
import { type ConnectionListener, Server, type ServerOptions } from './server';
import { Socket, type SocketOptions } from './socket';

export { type ConnectionListener, type ListenOptions, Server, type ServerOptions } from './server';
export { type ReadHandler, Socket, type SocketOptions, type WriteCallback } from './socket';

/** `createServer(options?, onConnection?)`, as Node's. */
export function createServer(options?: ServerOptions | ConnectionListener, onConnection?: ConnectionListener): Server {
  if (typeof options === 'function') return new Server({}, options);
  return new Server(options ?? {}, onConnection);
}

export interface ConnectOptions extends SocketOptions {
  port?: number;
  host?: string;
  path?: string;
}

/**
 * `connect(port, host?, onConnect?)`, `connect(path, onConnect?)` or
 * `connect({ port, host } | { path }, onConnect?)`: a non-blocking connect. `'connect'` follows,
 * or `'error'` (ECONNREFUSED, ETIMEDOUT, …) then `'close'`.
 */
export function connect(...args: unknown[]): Socket {
  const onConnect = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
  const [a, b] = args;
  let opts: ConnectOptions;
  if (a !== null && typeof a === 'object') opts = a as ConnectOptions;
  else if (typeof a === 'string' && !/^\d+$/.test(a)) opts = { path: a };
  else opts = { port: a as number, host: b as string | undefined };
  const endpoint =
    opts.path !== undefined ? unixEndpoint(opts.path) : ipEndpoint(opts.host, checkPort(opts.port), '127.0.0.1');
  const socket = new Socket(opts);
  if (onConnect) {
    if (typeof onConnect !== 'function') throw invalidArgType('connectListener', 'of type function', onConnect);
    socket.once('connect', onConnect);
  }
  socket._connect(endpoint);
  return socket;
}

/** Alias of {@link connect}, as in Node. */
export const createConnection = connect;

export { isIP, isIPv4, isIPv6 } from 'node:net';
