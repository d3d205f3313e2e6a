/**
 * `tls`: Node's own TLS, over the reactor's sockets. `createServer` returns a real `tls.Server`
 * accepting on our `net.Server` (each connection wrapped by Node in a `TLSSocket`); `connect`
 * runs Node's TLS client over one of our sockets. Everything else is node:tls's.
 *
 * @example
 * ```ts
 * import { tls } from 'epoll-reactor';
 * tls.createServer({ key, cert }, (socket) => socket.end('hello\n')).listen(8443);
 * ```
 * @module
 */
import * as nodeTls from 'node:tls';
import type { Loop } from '../reactor/index';
import { loopOption } from './connection';
import { listenOnLoop, type NodeServerState } from './listener';
import { connectTls, fillServerAddresses, normalizeTlsArgs } from './tls-socket';

export {
  CLIENT_RENEG_LIMIT,
  CLIENT_RENEG_WINDOW,
  DEFAULT_CIPHERS,
  DEFAULT_ECDH_CURVE,
  DEFAULT_MAX_VERSION,
  DEFAULT_MIN_VERSION,
  SecureContext,
  TLSSocket,
  checkServerIdentity,
  createSecureContext,
  getCiphers,
  rootCertificates,
} from 'node:tls';
export type { ConnectionOptions, SecureContextOptions, TlsOptions } from 'node:tls';

/** Node's `tls.TlsOptions`, plus the loop to accept on. */
export type ServerOptions = nodeTls.TlsOptions & { loop?: Loop };

/** Node's `tls.Server` (`instanceof require('node:tls').Server`), listening on the reactor. */
export class Server extends nodeTls.Server {
  /** The loop this server accepts on. */
  readonly loop: Loop;

  constructor(secureConnectionListener?: (socket: nodeTls.TLSSocket) => void);
  constructor(options: ServerOptions, secureConnectionListener?: (socket: nodeTls.TLSSocket) => void);
  constructor(options?: ServerOptions | ((socket: nodeTls.TLSSocket) => void), listener?: (socket: nodeTls.TLSSocket) => void) {
    super(options as nodeTls.TlsOptions, listener);
    this.loop = loopOption(options);
    fillServerAddresses(this);
  }

  /** Every form of Node's `listen()`; accepts on {@link Server.loop}. */
  // biome-ignore lint/suspicious/noExplicitAny: Node's overloads, all forwarded
  override listen(...args: any[]): this {
    listenOnLoop(this as unknown as NodeServerState, this.loop, args);
    return this;
  }
}

/** `createServer([options], [secureConnectionListener])`, as Node's. */
export function createServer(secureConnectionListener?: (socket: nodeTls.TLSSocket) => void): Server;
export function createServer(options: ServerOptions, secureConnectionListener?: (socket: nodeTls.TLSSocket) => void): Server;
export function createServer(options?: ServerOptions | ((socket: nodeTls.TLSSocket) => void), listener?: (socket: nodeTls.TLSSocket) => void): Server {
  return new Server(options as ServerOptions, listener);
}

/** Node's `tls.ConnectionOptions`, plus the loop the connection runs on. */
export type ConnectOptions = nodeTls.ConnectionOptions & { loop?: Loop };

/**
 * `connect(options, [cb])`, `connect(port, [host], [options], [cb])`, `connect(path, [options], [cb])`,
 * as Node's; the TCP connection is one of our sockets (unless `options.socket` brings one).
 */
export function connect(options: ConnectOptions, secureConnectListener?: () => void): nodeTls.TLSSocket;
export function connect(port: number, host?: string, options?: ConnectOptions, secureConnectListener?: () => void): nodeTls.TLSSocket;
export function connect(port: number, options?: ConnectOptions, secureConnectListener?: () => void): nodeTls.TLSSocket;
export function connect(...args: unknown[]): nodeTls.TLSSocket {
  const [options, cb] = normalizeTlsArgs(args);
  return connectTls(options, cb);
}
