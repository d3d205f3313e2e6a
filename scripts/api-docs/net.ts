/**
 * `net`: TCP and Unix stream sockets on the reactor, shaped like Node's `net` — sockets are
 * `stream.Duplex`es, host names resolve through `dns.lookup`, errors read as Node's.
 * @module
 */
// The API reference's view of lib/net: the same names, with Socket and Server shown as the
// classes they construct (lib/net exports them as callables that also work without `new`, as
// Node's do, which TypeDoc would show as variables).
export {
  type ConnectOptions,
  getDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout,
  type LookupFunction,
  setDefaultAutoSelectFamily,
  setDefaultAutoSelectFamilyAttemptTimeout,
} from '../../lib/net/connect';
export type { NetSystemError } from '../../lib/net/errors';
export { createServer, connect, createConnection, type NetConnectOpts, Stream, _setSimultaneousAccepts, isIP, isIPv4, isIPv6, SocketAddress, BlockList } from '../../lib/net/index';
export { type ConnectionListener, type DropData, type ListenOptions, ServerImpl as Server, type ServerConstructor, type ServerEvents, type ServerOptions } from '../../lib/net/server';
export { type NodeOnread, type ReadHandler, SocketImpl as Socket, type SocketConstructor, type SocketEvents, type SocketOptions, type WriteCallback } from '../../lib/net/socket';
