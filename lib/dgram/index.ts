/**
 * `dgram`: UDP sockets on the reactor, shaped like Node's `dgram`. Reads take many datagrams per
 * syscall (recvmmsg) and the sends of an iteration go out together (sendmmsg): docs/udp.md.
 *
 * @example
 * ```ts
 * import { dgram } from 'epoll-reactor';
 * const server = dgram.createSocket('udp4');
 * server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
 * server.bind(41234, '127.0.0.1');
 * ```
 * @module
 */
import type { RemoteInfo } from './batch';
import { Socket, type SocketOptions, type SocketType } from './socket';

export type { RemoteInfo, SendCallback } from './batch';
export { type AddressInfo, type BindOptions, type LookupFunction, type Message, Socket, type SocketOptions, type SocketType } from './socket';

/** `createSocket('udp4' | 'udp6' | options, [onMessage])`, as Node's. */
export function createSocket(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): Socket {
  return new Socket(type, listener);
}
