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
import { EventEmitter } from 'node:events';
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { invalidArgType } from '../errors';
import { loop as defaultLoop, type Loop, type Timer, type Watcher } from '../reactor/index';
import type { LoopState } from '../reactor/core';
import { internals } from '../reactor/internal';
import * as sys from '../sys/index';
import { checkPort, type Endpoint, ipEndpoint, unixEndpoint } from './address';
import { decorate, Socket, type SocketOptions } from './socket';

const ACCEPTS_PER_WAKEUP = 128;

export interface ServerOptions extends SocketOptions {
  /** SO_REUSEPORT: several servers (processes) share the port; the kernel balances. */
  reusePort?: boolean;
  /** Refuse connections beyond this many (closed at once, reported with 'drop'). */
  maxConnections?: number;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  path?: string;
  backlog?: number;
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
export class Server extends EventEmitter {
  readonly loop: Loop;
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

  constructor(options: ServerOptions = {}, onConnection?: ConnectionListener) {
    super();
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
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
   * `listen(port, host?, backlog?, cb?)`, `listen(path, backlog?, cb?)` or
   * `listen({ port, host, path, backlog }, cb?)`. Without a host: `::` (both IPv6 and IPv4), or
   * `0.0.0.0` where IPv6 is unavailable — as Node. Errors (EADDRINUSE, EACCES…) are emitted as
   * `'error'`, with `address` and `port`.
   */
  listen(...args: unknown[]): this {
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    let opts: ListenOptions;
    const [a, b, c] = args;
    if (a !== null && typeof a === 'object') opts = a as ListenOptions;
    else if (typeof a === 'string' && !/^\d+$/.test(a)) opts = { path: a, backlog: b as number | undefined };
    else if (typeof b === 'number') opts = { port: a as number, backlog: b };
    else opts = { port: (a ?? 0) as number, host: b as string | undefined, backlog: c as number | undefined };
    if (this.watcher !== null) throw new Error('Server is already listening (ERR_SERVER_ALREADY_LISTEN)');
    const backlog = opts.backlog ?? 511;
    if (!Number.isInteger(backlog) || backlog < 0) throw invalidArgType('backlog', 'a non-negative integer', backlog);
    let endpoint: Endpoint;
    if (opts.path !== undefined) endpoint = unixEndpoint(opts.path);
    else {
      const port = checkPort(opts.port ?? 0);
      endpoint = ipEndpoint(opts.host, port, ipv6Available() ? '::' : '0.0.0.0');
    }
    if (cb) this.once('listening', cb);
    this.closing = false;
    try {
      this.open(endpoint, backlog);
    } catch (e) {
      decorate(e, endpoint);
      process.nextTick(() => this.emit('error', e));
    }
    return this;
  }

  private open(endpoint: Endpoint, backlog: number): void {
    const fd = sys.socket(endpoint.domain, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    try {
      if (endpoint.domain !== sys.AF_UNIX) {
        sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEADDR, 1);
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
    this.watcher.data = this;
    this.watcher.onLoopClose = closeOnLoopClose;
    if (!this.refed) this.watcher.unref();
    this.fd = fd;
    this.endpoint = endpoint;
    this.spareFd = openSpare();
    process.nextTick(() => this.emit('listening'));
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
        sys.close(fd);
        this.emit('drop', { reason: 'maxConnections' });
        continue;
      }
      const socket = new Socket(this.options);
      socket._adopt(fd, unix);
      socket._server = this;
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
    if (cb) {
      if (this.watcher === null) {
        const e = Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
        process.nextTick(cb, e);
      } else {
        this.once('close', cb);
      }
    }
    if (this.watcher === null) return this;
    this.watcher.close();
    this.watcher = null;
    sys.close(this.fd);
    this.fd = -1;
    this.backoff?.close();
    this.backoff = null;
    if (this.spareFd >= 0) closeSync(this.spareFd);
    this.spareFd = -1;
    if (this.endpoint!.domain === sys.AF_UNIX && !this.endpoint!.address.startsWith('\0')) {
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
