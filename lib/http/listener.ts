/**
 * How Node's own servers (`http.Server`, `https.Server`, `tls.Server`, all `net.Server`s of
 * node:net) accept on the reactor.
 *
 * Node's `net.Server` keeps its listening socket in `this._handle` and reads it in exactly four
 * places: `close()` (`_handle.close()`), `address()` (`_handle.getsockname(out)`), `ref()`/`unref()`
 * and the `listening` getter. Everything else — http's `close()` (idle connections closed, its
 * timeout checker stopped), `closeAllConnections()`, `getConnections()`, `'close'` once the last
 * connection is gone (`_emitCloseIfDrained`, counting `_connections`) — is built on those. So
 * `listen()` is the one method we replace: it listens with our `net.Server`, puts a
 * {@link ListenerHandle} over it in `_handle`, and hands each accepted socket to the Node server
 * as Node's own `onconnection` does (`_connections++`, `socket.server`, `emit('connection')`).
 * Node's code does the rest, unchanged.
 */
import type * as nodeNet from 'node:net';
import * as nodeTls from 'node:tls';
import type { Loop } from '../reactor/index';
import { invalidArgType } from '../errors';
import { Server as ReactorServer } from '../net/server';
import type { Socket } from '../net/socket';
import { keepOpenUnderTls } from './tls-socket';

/** The members of Node's `net.Server` this module reads and writes (its own, not ours). */
export interface NodeServerState extends nodeNet.Server {
  _handle: ListenerHandle | null;
  _connections: number;
  _pipeName?: string;
  _unref: boolean;
  _listeningId: number;
  _emitCloseIfDrained(): void;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  /** Seconds, as Node stores it. */
  keepAliveInitialDelay: number;
  highWaterMark: number;
}

/** What Node's `net.Server` calls on `_handle`, answered by our listener. */
export class ListenerHandle {
  constructor(readonly listener: ReactorServer) {}

  close(): void {
    this.listener.close();
  }

  ref(): void {
    this.listener.ref();
  }

  unref(): void {
    this.listener.unref();
  }
}

/** A TCP listener also answers `getsockname` (a Unix one does not: Node then reports `_pipeName`). */
class TcpListenerHandle extends ListenerHandle {
  getsockname(out: Record<string, unknown>): number {
    const address = this.listener.address();
    if (address === null || typeof address === 'string') return -9; // UV_EBADF, as a closed handle
    out.address = address.address;
    out.family = address.family;
    out.port = address.port;
    return 0;
  }
}

/**
 * Node's `server.listen(...args)`, every form, on `loop`: our `net.Server` accepts, `server`
 * gets `'listening'`, `'error'`, `'drop'` and each connection.
 */
export function listenOnLoop(server: NodeServerState, loop: Loop, args: unknown[]): void {
  if (server._handle) {
    const e = new Error('Listen method has been called more than once without closing.') as Error & { code: string };
    e.code = 'ERR_SERVER_ALREADY_LISTEN';
    throw e;
  }
  const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : null;
  closeOnAbort(server, args);
  const listener = new ReactorServer({
    loop,
    allowHalfOpen: server.allowHalfOpen,
    pauseOnConnect: server.pauseOnConnect,
    noDelay: server.noDelay,
    keepAlive: server.keepAlive,
    keepAliveInitialDelay: server.keepAliveInitialDelay * 1000,
    readableHighWaterMark: server.highWaterMark,
    writableHighWaterMark: server.highWaterMark,
  });
  listener.on('connection', (socket) => accept(server, socket));
  listener.on('drop', (data) => server.emit('drop', data));
  listener.on('error', (e) => {
    if (server._handle?.listener === listener) server._handle = null;
    server.emit('error', e);
  });
  // As Node's: listen(), then close() or listen() again before a host name resolves, cancels it.
  const id = ++server._listeningId;
  listener.once('listening', () => {
    if (server._listeningId !== id) {
      listener.close();
      return;
    }
    adopt(server, listener);
    server.emit('listening');
  });
  (listener.listen as (...a: unknown[]) => unknown)(...args);
  // An IP or a path listens at once: as with Node, address() answers before 'listening'.
  if (listener.listening) adopt(server, listener);
  if (cb !== null) server.once('listening', cb);
}

/**
 * `listen({ signal })`: the abort closes the Node server (`server.close()`, so its `'close'`
 * comes and `listening` turns false), not only our listener below it; the signal is taken out of
 * the options our listener gets.
 */
function closeOnAbort(server: NodeServerState, args: unknown[]): void {
  const options = args[0] as { signal?: unknown } | null | undefined;
  if (options === null || typeof options !== 'object' || options.signal === undefined) return;
  const { signal, ...rest } = options;
  if (signal === null || typeof signal !== 'object' || typeof (signal as AbortSignal).addEventListener !== 'function') {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  args[0] = rest;
  const abortSignal = signal as AbortSignal;
  if (abortSignal.aborted) {
    process.nextTick(() => server.close());
    return;
  }
  const onAbort = (): void => {
    server.close();
  };
  abortSignal.addEventListener('abort', onAbort, { once: true });
  server.once('close', () => abortSignal.removeEventListener('abort', onAbort));
}

function adopt(server: NodeServerState, listener: ReactorServer): void {
  if (server._handle?.listener === listener) return;
  const address = listener.address();
  if (typeof address === 'string') {
    server._pipeName = address;
    server._handle = new ListenerHandle(listener);
  } else {
    server._handle = new TcpListenerHandle(listener);
  }
  if (server._unref) listener.unref();
}

/** Node's `onconnection`, for one of our sockets. */
function accept(server: NodeServerState, socket: Socket): void {
  if (server.maxConnections && server._connections >= server.maxConnections) {
    server.emit('drop', {
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      localFamily: socket.localFamily,
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      remoteFamily: socket.remoteFamily,
    });
    socket.destroy();
    return;
  }
  server._connections++;
  socket.server = server;
  socket.once('close', () => {
    server._connections--;
    server._emitCloseIfDrained();
  });
  server.emit('connection', socket);
  // A TLS server has just wrapped the socket in Node's TLSSocket (see keepOpenUnderTls).
  if (server instanceof nodeTls.Server) keepOpenUnderTls(socket);
}
