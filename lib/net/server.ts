/**
 * A listening socket on the reactor, shaped like Node's `net.Server`.
 *
 * Accepting: the listening fd is watched level-triggered; each wake-up accepts up to 128
 * connections with `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)` (the rest wait for the next
 * iteration, so a connection storm cannot starve established sockets).
 *
 * Running out of fds (EMFILE/ENFILE) must neither spin nor kill the server. With a
 * level-triggered listener, a pending connection we cannot accept would wake us forever. So the
 * server holds one spare fd (/dev/null): on EMFILE it closes the spare, accepts the connection
 * and closes it at once (the client sees the connection closed instead of hanging), repeats
 * until the queue is empty, and re-opens the spare — libuv's trick. `'drop'` reports each one.
 * If even that fails, accepting pauses for 100 ms.
 */
import * as dns from 'node:dns';
import { EventEmitter } from 'node:events';
import { chmodSync, closeSync, openSync, statSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { invalidArgType } from '../errors';
import { loop as defaultLoop, type Loop, type Timer, type Watcher } from '../reactor/index';
import type { LoopState } from '../reactor/core';
import { internals } from '../reactor/internal';
import * as sys from '../sys/index';
import type { Endpoint } from './address';
import { isPipeName, normalizeArgs, validatePort } from './connect';
import { codedError, fromSys, invalidArgValue } from './errors';
import { type Socket, SocketImpl, type SocketOptions } from './socket';

const ACCEPTS_PER_WAKEUP = 128;

export interface ServerOptions extends Omit<SocketOptions, 'fd' | 'signal'> {
  /** SO_REUSEPORT: several servers (processes) share the port; the kernel balances. */
  reusePort?: boolean;
  /** Refuse connections beyond this many (closed at once, reported with 'drop'). */
  maxConnections?: number;
  /** Accepted sockets do not read until resume() (as Node's). */
  pauseOnConnect?: boolean;
}

export interface ListenOptions {
  port?: number | string;
  host?: string;
  path?: string;
  backlog?: number;
  /** Listen on this already bound (or listening) socket fd. */
  fd?: number;
  /** IPV6_V6ONLY: `::` does not take IPv4 connections too. */
  ipv6Only?: boolean;
  /** Accepted for Node's signature; without cluster it changes nothing. */
  exclusive?: boolean;
  /** Close the server when this signal aborts. */
  signal?: AbortSignal;
  readableAll?: boolean;
  writableAll?: boolean;
}

/** The events of a Server, with their arguments. */
export interface ServerEvents {
  close: [];
  connection: [socket: Socket];
  error: [error: Error];
  listening: [];
  drop: [data?: DropData];
}

/** What 'drop' tells: Node's addresses for a connection over maxConnections; `reason` when we shed load at EMFILE/ENFILE. */
export interface DropData {
  reason?: string;
  localAddress?: string;
  localPort?: number;
  localFamily?: string;
  remoteAddress?: string;
  remotePort?: number;
  remoteFamily?: string;
}

export type ConnectionListener = (socket: Socket) => void;

function closeOnLoopClose(watcher: Watcher): void {
  (watcher.data as Server).close();
}

function emitClose(server: Server): void {
  server.emit('close');
}

function onAcceptable(_events: number, watcher: Watcher): void {
  (watcher.data as Server)._accept();
}

/**
 * @example
 * ```ts
 * import { net } from 'epoll-reactor';
 * net.createServer((socket) => socket.on('data', (d) => socket.write(d)))
 *   .listen(7000, '127.0.0.1');
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed events are declared in the interface below
export class ServerImpl extends EventEmitter {
  readonly loop: Loop;
  /** The loop's internal state (its write batch, whether it is mid-iteration, deferred callbacks). */
  private readonly loopState: LoopState;
  /** Connections accepted and not yet closed. */
  connections = 0;
  maxConnections: number;
  private readonly options: ServerOptions;
  private fd = -1;
  private watcher: Watcher | null = null;
  private endpoint: Endpoint | null = null;
  private spareFd = -1;
  private backoff: Timer | null = null;
  private closing = false;
  private refed = true;
  /** A Unix socket path this server created (and unlinks on close). */
  private ownsPath = false;
  /** @internal Node's `${addressType}:${address}:${port}` of the listen call. */
  _connectionKey: string | undefined = undefined;

  constructor(options?: ServerOptions | ConnectionListener, onConnection?: ConnectionListener) {
    super();
    if (typeof options === 'function') {
      onConnection = options;
      options = {};
    } else if (options === undefined || options === null) options = {};
    else if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    this.options = options;
    this.loop = options.loop ?? defaultLoop;
    this.loopState = internals(this.loop);
    this.maxConnections = options.maxConnections ?? Number.POSITIVE_INFINITY;
    if (onConnection !== undefined) {
      if (typeof onConnection !== 'function') throw invalidArgType('connectionListener', 'of type function', onConnection);
      this.on('connection', onConnection);
    }
  }

  get listening(): boolean {
    return this.watcher !== null;
  }

  /**
   * `listen(port?, host?, backlog?, cb?)`, `listen(path, backlog?, cb?)`, `listen(options, cb?)`
   * or `listen({ fd })`, as Node's. Without a host: `::` (IPv6 and IPv4), or `0.0.0.0` where IPv6
   * is unavailable; a host name is resolved with dns.lookup. Errors (EADDRINUSE, EACCES…) are
   * emitted as `'error'` with syscall `listen`, `address` and `port`.
   */
  listen(port?: number | string, hostname?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, hostname?: string, listeningListener?: () => void): this;
  listen(port?: number | string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, listeningListener?: () => void): this;
  listen(path: string, backlog?: number, listeningListener?: () => void): this;
  listen(path: string, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    const [normalized, cb] = normalizeArgs(args);
    let options = normalized as ListenOptions & Record<string, unknown>;
    if (this.watcher !== null) throw codedError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    if (cb !== null) this.once('listening', cb);
    const backlogFromArgs = toNumber(args.length > 1 && args[1]) || toNumber(args.length > 2 && args[2]);
    options = ((options as { _handle?: unknown })._handle ?? (options as { handle?: unknown }).handle ?? options) as typeof options;
    if (options.signal !== undefined) this.closeOnAbort(options.signal);
    if (typeof options.fd === 'number' && options.fd >= 0) {
      this.listenOnFd(options.fd, (options.backlog || backlogFromArgs || 511) as number);
      return this;
    }
    if (args.length === 0 || typeof args[0] === 'function' || (options.port === undefined && 'port' in options) || options.port === null) {
      options.port = 0;
    }
    if (typeof options.port === 'number' || typeof options.port === 'string') {
      const port = validatePort(options.port, 'options.port');
      const backlog = (options.backlog || backlogFromArgs || 511) as number;
      if (options.host) this.lookupAndListen(port, options.host, backlog, options.ipv6Only === true);
      else this.listenOn(null, port, backlog, options.ipv6Only === true);
      return this;
    }
    if (options.path && isPipeName(options.path)) {
      const backlog = (options.backlog || backlogFromArgs || 511) as number;
      this.start({ domain: sys.AF_UNIX, address: options.path, port: -1 }, backlog, false);
      // As Node's (libuv's uv_pipe_chmod): the socket file readable/writable by everyone.
      if (this.fd >= 0 && (options.readableAll || options.writableAll)) {
        const path = options.path;
        const bits = (options.readableAll ? 0o444 : 0) | (options.writableAll ? 0o222 : 0);
        try {
          chmodSync(path, statSync(path).mode | bits);
        } catch (e) {
          this.close();
          throw fromSys(e, 'uv_pipe_chmod');
        }
      }
      return this;
    }
    if (!('port' in options || 'path' in options)) {
      throw invalidArgValue('options', normalized, 'must have the property "port" or "path"');
    }
    throw invalidArgValue('options', normalized, 'is invalid');
  }

  private closeOnAbort(signal: AbortSignal): void {
    if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
    if (signal.aborted) {
      process.nextTick(() => this.close());
      return;
    }
    const onAbort = (): void => {
      this.close();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    this.once('close', () => signal.removeEventListener('abort', onAbort));
  }

  private lookupAndListen(port: number, host: string, backlog: number, ipv6Only: boolean): void {
    if (isIP(host)) {
      this.listenOn(host, port, backlog, ipv6Only);
      return;
    }
    dns.lookup(host, (err, ip) => {
      if (err) this.emit('error', err);
      else this.listenOn(ip, port, backlog, ipv6Only);
    });
  }

  /** No host: `::` if IPv6 works here, else `0.0.0.0` (as Node's createServerHandle). */
  private listenOn(host: string | null, port: number, backlog: number, ipv6Only: boolean): void {
    if (host === null) host = ipv6Available() ? '::' : '0.0.0.0';
    const family = isIP(host);
    this.start({ domain: family === 6 ? sys.AF_INET6 : sys.AF_INET, address: host, port }, backlog, ipv6Only);
  }

  private start(endpoint: Endpoint, backlog: number, ipv6Only: boolean): void {
    this.closing = false;
    // Node's key of what was asked for: address type, address and port (-1 for a path).
    this._connectionKey =
      endpoint.domain === sys.AF_UNIX ? `-1:${endpoint.address}:-1` : `${endpoint.domain === sys.AF_INET6 ? 6 : 4}:${endpoint.address}:${endpoint.port}`;
    try {
      this.open(endpoint, backlog, ipv6Only);
    } catch (e) {
      const error = fromSys(e, 'listen', endpoint.address, endpoint.port, true);
      process.nextTick(() => this.emit('error', error));
    }
  }

  /** `listen({ fd })`: a bound socket of ours to listen on (listen() again is harmless). */
  private listenOnFd(fd: number, backlog: number): void {
    try {
      const domain = sys.getsockopt(fd, sys.SOL_SOCKET, sys.SO_DOMAIN);
      sys.setNonBlocking(fd, true);
      sys.listen(fd, backlog);
      this.watcher = this.loop.watch(fd, sys.EPOLLIN, onAcceptable);
      const local = domain === sys.AF_UNIX ? { address: '', port: -1 } : sys.getsockname(fd);
      this.endpoint = { domain, address: local.address, port: local.port };
    } catch (e) {
      const error = fromSys(e, 'listen', undefined, undefined, true);
      process.nextTick(() => this.emit('error', error));
      return;
    }
    this.ownsPath = false;
    this.adoptListener(fd);
  }

  private open(endpoint: Endpoint, backlog: number, ipv6Only: boolean): void {
    const fd = sys.socket(endpoint.domain, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    try {
      if (endpoint.domain !== sys.AF_UNIX) {
        sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEADDR, 1);
        if (endpoint.domain === sys.AF_INET6) sys.setsockopt(fd, sys.IPPROTO_IPV6, sys.IPV6_V6ONLY, ipv6Only ? 1 : 0);
        if (this.options.reusePort) sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEPORT, 1);
        sys.bind(fd, endpoint.address, endpoint.port);
      } else {
        sys.bind(fd, endpoint.address);
      }
      sys.listen(fd, backlog);
      this.watcher = this.loop.watch(fd, sys.EPOLLIN, onAcceptable);
    } catch (e) {
      sys.close(fd);
      throw e;
    }
    this.endpoint = endpoint;
    this.ownsPath = true;
    this.adoptListener(fd);
  }

  private adoptListener(fd: number): void {
    const watcher = this.watcher!;
    watcher.data = this;
    watcher.onLoopClose = closeOnLoopClose;
    if (!this.refed) watcher.unref();
    this.fd = fd;
    this.spareFd = openSpare();
    process.nextTick(() => {
      if (this.watcher === watcher) this.emit('listening');
    });
  }

  /** @internal Accept what is queued, up to ACCEPTS_PER_WAKEUP. */
  _accept(): void {
    const unix = this.endpoint!.domain === sys.AF_UNIX;
    for (let i = 0; i < ACCEPTS_PER_WAKEUP && this.fd >= 0; i++) {
      let fd: number;
      try {
        fd = sys.accept4(this.fd, sys.SOCK_NONBLOCK);
      } catch (e) {
        if (sys.isSystemError(e, 'EMFILE') || sys.isSystemError(e, 'ENFILE')) {
          this.shedLoad(e);
          return;
        }
        // The peer gave up while queued, or a transient network error: skip it.
        if (sys.isSystemError(e, 'ECONNABORTED') || sys.isSystemError(e, 'EPROTO') || sys.isSystemError(e, 'EPERM')) continue;
        if (sys.isSystemError(e, 'ENOBUFS') || sys.isSystemError(e, 'ENOMEM')) {
          this.pauseAccepting();
          return;
        }
        this.emit('error', e);
        return;
      }
      if (fd === sys.EAGAIN) return;
      if (this.connections >= this.maxConnections) {
        // As Node's: the addresses of the connection dropped (none for a Unix socket).
        const data = unix ? undefined : dropData(fd);
        sys.close(fd);
        if (data === undefined) this.emit('drop');
        else this.emit('drop', data);
        continue;
      }
      const socket = new SocketImpl(this.options);
      socket._adopt(fd, unix, this.options.pauseOnConnect === true);
      socket._server = this;
      socket.server = this;
      this.connections++;
      this.emit('connection', socket);
    }
  }

  /** EMFILE/ENFILE: accept-and-close with the spare fd until the queue is empty. */
  private shedLoad(cause: unknown): void {
    if (this.spareFd < 0) {
      this.pauseAccepting();
      return;
    }
    closeSync(this.spareFd);
    this.spareFd = -1;
    for (;;) {
      let fd: number;
      try {
        fd = sys.accept4(this.fd, sys.SOCK_NONBLOCK);
      } catch {
        break;
      }
      if (fd === sys.EAGAIN) break;
      sys.close(fd);
      this.emit('drop', { reason: (cause as sys.SystemError).code });
    }
    this.spareFd = openSpare();
  }

  /** Stop watching the listener for a while (kernel memory or fd exhaustion we cannot shed). */
  private pauseAccepting(): void {
    if (this.backoff !== null || this.watcher === null) return;
    this.watcher.modify(sys.EPOLLONESHOT);
    this.backoff = this.loop.setTimeout(() => {
      this.backoff = null;
      if (this.spareFd < 0) this.spareFd = openSpare();
      this.watcher?.modify(sys.EPOLLIN);
    }, 100);
  }

  /** @internal A connection this server accepted has closed. */
  _connectionClosed(): void {
    this.connections--;
    if (this.closing && this.connections === 0 && this.watcher === null) {
      this.closing = false;
      this.deferClose();
    }
  }

  private deferClose(): void {
    if (this.loop.closed || this.loopState.closing) process.nextTick(emitClose, this);
    else this.loopState.defer(emitClose, this);
  }

  /**
   * Stop accepting (the listening fd closes now); `'close'` follows once every accepted
   * connection has closed. `cb` gets ERR_SERVER_NOT_RUNNING if the server was not listening.
   */
  close(cb?: (err?: Error) => void): this {
    if (typeof cb === 'function') {
      if (this.watcher === null) {
        this.once('close', () => cb(codedError('ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      } else {
        this.once('close', cb);
      }
    }
    if (this.watcher === null) {
      // As Node's _emitCloseIfDrained: 'close' still comes, once no connection is left.
      if (this.connections === 0 && !this.closing) this.deferClose();
      else this.closing = true;
      return this;
    }
    this.watcher.close();
    this.watcher = null;
    sys.close(this.fd);
    this.fd = -1;
    this.backoff?.close();
    this.backoff = null;
    if (this.spareFd >= 0) closeSync(this.spareFd);
    this.spareFd = -1;
    if (this.ownsPath && this.endpoint!.domain === sys.AF_UNIX && !this.endpoint!.address.startsWith('\0')) {
      try {
        unlinkSync(this.endpoint!.address);
      } catch {
        // already gone
      }
    }
    this.closing = true;
    if (this.connections === 0) {
      this.closing = false;
      this.deferClose();
    }
    return this;
  }

  /** `{ address, port, family }` for TCP, the path for a Unix socket, null when not listening. */
  address(): sys.SocketAddress | string | null {
    if (this.fd < 0) return null;
    if (this.endpoint!.domain === sys.AF_UNIX) return this.endpoint!.address;
    return sys.getsockname(this.fd);
  }

  /** Node's `server[Symbol.asyncDispose]()`: close, resolved on 'close'. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.watcher === null) return;
    await new Promise<void>((resolve, reject) => this.close((e) => (e ? reject(e) : resolve())));
  }

  /** Node's `server._connections`. */
  get _connections(): number {
    return this.connections;
  }

  /** As Node's: a rejected async 'connection' listener destroys that socket with the error. */
  override [EventEmitter.captureRejectionSymbol](error: Error, event: string, ...args: unknown[]): void {
    if (event === 'connection') (args[0] as Socket).destroy(error);
    else this.emit('error', error);
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.connections);
    return this;
  }

  ref(): this {
    this.refed = true;
    this.watcher?.ref();
    return this;
  }

  unref(): this {
    this.refed = false;
    this.watcher?.unref();
    return this;
  }
}

function dropData(fd: number): DropData | undefined {
  try {
    const local = sys.getsockname(fd);
    const remote = sys.getpeername(fd);
    return {
      localAddress: local.address,
      localPort: local.port,
      localFamily: local.family,
      remoteAddress: remote.address,
      remotePort: remote.port,
      remoteFamily: remote.family,
    };
  } catch {
    return undefined;
  }
}

function openSpare(): number {
  try {
    return openSync('/dev/null', 'r'); // libuv opens with O_CLOEXEC
  } catch {
    return -1;
  }
}

let ipv6: boolean | undefined;
function ipv6Available(): boolean {
  if (ipv6 === undefined) {
    try {
      sys.close(sys.socket(sys.AF_INET6, sys.SOCK_STREAM));
      ipv6 = true;
    } catch {
      ipv6 = false;
    }
  }
  return ipv6;
}

function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

// Typed events (declarations only).
type ServerListener<K extends keyof ServerEvents> = (...args: ServerEvents[K]) => void;
// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own listener type
type AnyListener = (...args: any[]) => void;
export interface ServerImpl {
  on<K extends keyof ServerEvents>(event: K, listener: ServerListener<K>): this;
  on(event: string | symbol, listener: AnyListener): this;
  once<K extends keyof ServerEvents>(event: K, listener: ServerListener<K>): this;
  once(event: string | symbol, listener: AnyListener): this;
  addListener<K extends keyof ServerEvents>(event: K, listener: ServerListener<K>): this;
  addListener(event: string | symbol, listener: AnyListener): this;
  off<K extends keyof ServerEvents>(event: K, listener: ServerListener<K>): this;
  off(event: string | symbol, listener: AnyListener): this;
  emit<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): boolean;
  emit(event: string | symbol, ...args: unknown[]): boolean;
}

/** A Server, callable with or without `new` (as Node's). */
export type Server = ServerImpl;
export interface ServerConstructor {
  new (options?: ServerOptions, connectionListener?: ConnectionListener): Server;
  new (connectionListener?: ConnectionListener): Server;
  (options?: ServerOptions, connectionListener?: ConnectionListener): Server;
  (connectionListener?: ConnectionListener): Server;
  readonly prototype: Server;
}
export const Server = new Proxy(ServerImpl, {
  apply(target, _this, args: [ServerOptions?, ConnectionListener?]) {
    return new target(...args);
  },
}) as unknown as ServerConstructor;
