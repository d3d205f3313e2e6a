/**
 * A TCP (or Unix stream) connection on the reactor: a `stream.Duplex`, as Node's `net.Socket` is.
 *
 * The reactor moves the bytes; the stream machinery sits on top. The class is built in layers
 * (see socket-core.ts): the shared state, the read side (socket-read.ts: the loop's reads pushed
 * into the stream, the zero-copy `onread` path), the write side (socket-write.ts: `_write`/
 * `_writev` into the loop's batch or the WriteQueue, `_final` = `shutdown(SHUT_WR)`), options
 * and addresses (socket-settings.ts), and this file, the public API: opening (an accepted or
 * given fd, or a connect), the loop's events, closing (`_destroy` is `EPOLL_CTL_DEL` +
 * `close(fd)`, then `'close'` with `hadError` on the next iteration, as Node's comes from the
 * handle's close callback).
 */
import { addAbortSignal, type DuplexOptions } from 'node:stream';
import { invalidArgType } from '../errors';
import { loop as defaultLoop, type Loop, type Watcher } from '../reactor/index';
import type { StreamOwner } from '../reactor/stream-batch';
import * as sys from '../sys/index';
import type { Endpoint } from './address';
import { type ConnectArgs, type ConnectOptions, startConnect } from './connect';
import { codedError, errnoError, fromSys, invalidArgValue } from './errors';
import { SocketSettings } from './socket-settings';
import { onReadableStreamEnd } from './socket-write';

const { EPOLLOUT, EPOLLERR, EPOLLONESHOT, EAGAIN, SOL_SOCKET, SO_ERROR } = sys;

export type { WriteCallback } from './socket-core';

export interface SocketOptions {
  /** The loop to run on (default: the default loop). */
  loop?: Loop;
  /** Keep the writable side open after the peer ends (default false: end too, like Node). */
  allowHalfOpen?: boolean;
  /** TCP_NODELAY (default true — Node's default is false; see docs/net.md). */
  noDelay?: boolean;
  /** SO_KEEPALIVE (default false). */
  keepAlive?: boolean;
  /** TCP_KEEPIDLE in ms when keepAlive is on. */
  keepAliveInitialDelay?: number;
  /** write() returns false once this many bytes are buffered (default 16 KiB). */
  writableHighWaterMark?: number;
  /** Reading stops once this many bytes wait unconsumed (default 16 KiB). */
  readableHighWaterMark?: number;
  highWaterMark?: number;
  /** Wrap an open, connected stream socket fd (as Node's `{ fd }`). */
  fd?: number;
  readable?: boolean;
  writable?: boolean;
  /** Destroy the socket when this signal aborts. */
  signal?: AbortSignal;
  /** Do not start reading until resume()/read() (what `pauseOnConnect` gives accepted sockets). */
  pauseOnCreate?: boolean;
  /**
   * Node's `onread`: each read is copied into `buffer` (or a buffer `buffer()` returns, asked
   * once per read) and handed to `callback(bytes, buffer)` instead of `'data'`; a callback that
   * returns false stops reading until `resume()`. (Socket.onread is the zero-copy form.)
   */
  onread?: NodeOnread;
}

/** See Socket.onread: the bytes read are `buf[start]` to `buf[end - 1]`. */
/** Node's `onread` option (see SocketOptions.onread). */
export interface NodeOnread {
  buffer: Uint8Array | (() => Uint8Array);
  /** Returning false stops reading until resume(). */
  callback: (bytesWritten: number, buffer: Uint8Array) => unknown;
}
export type ReadHandler = (this: Socket, buf: Buffer, start: number, end: number) => void;

/** The events of a Socket, with their arguments (what @types/node declares for Node's). */
export interface SocketEvents {
  close: [hadError: boolean];
  connect: [];
  data: [chunk: Buffer];
  drain: [];
  end: [];
  error: [error: Error];
  finish: [];
  lookup: [error: Error | null, address: string, family: number | string | null, host: string];
  pause: [];
  pipe: [src: NodeJS.ReadableStream];
  ready: [];
  readable: [];
  resume: [];
  timeout: [];
  unpipe: [src: NodeJS.ReadableStream];
}
type Listener<K extends keyof SocketEvents> = (...args: SocketEvents[K]) => void;
// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own listener type
type AnyListener = (...args: any[]) => void;

function onSocketEvents(events: number, watcher: Watcher): void {
  (watcher.data as Socket)._onEvents(events);
}

function destroyOnLoopClose(watcher: Watcher): void {
  (watcher.data as Socket).destroy();
}

function emitClose(socket: Socket): void {
  socket.emit('close', socket._hadError);
}

/**
 * @example
 * ```ts
 * import { net } from 'epoll-reactor';
 * const socket = net.connect(8080, '127.0.0.1', () => socket.end('hello'));
 * socket.setEncoding('utf8');
 * for await (const text of socket) console.log(text);
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed events are declared in the interface below
export class SocketImpl extends SocketSettings implements StreamOwner {
  /** @internal The Server that accepted this socket. */
  _server: { _connectionClosed(): void } | null = null;
  /** The Server that accepted this socket (as Node's `socket.server`). */
  server: unknown = null;
  /** The addresses tried by autoSelectFamily, as Node's. */
  autoSelectFamilyAttemptedAddresses?: string[];
  /** @internal Cancels a connect under way (lookup, attempts). */
  _cancelConnect: (() => void) | null = null;
  /** @internal The pending connect's outcome: null when connected, else the error (fd closed). */
  _connectResult: ((error: Error) => void) | null = null;

  private onreadForward: ((chunk: Buffer) => void) | null = null;

  constructor(options: SocketOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    // As Node's: no object mode.
    const modes = options as Record<string, unknown>;
    if (modes.objectMode) throw invalidArgValue('options.objectMode', modes.objectMode, 'is not supported');
    if (modes.readableObjectMode || modes.writableObjectMode) {
      const key = modes.readableObjectMode ? 'readableObjectMode' : 'writableObjectMode';
      throw invalidArgValue(`options.${key}`, modes[key], 'is not supported');
    }
    const streamOptions: DuplexOptions = {
      allowHalfOpen: Boolean(options.allowHalfOpen),
      emitClose: false,
      autoDestroy: true,
      decodeStrings: false,
    };
    if (options.highWaterMark !== undefined) streamOptions.highWaterMark = options.highWaterMark;
    if (options.readableHighWaterMark !== undefined) streamOptions.readableHighWaterMark = options.readableHighWaterMark;
    if (options.writableHighWaterMark !== undefined) streamOptions.writableHighWaterMark = options.writableHighWaterMark;
    // Node passes `readable: false` to Duplex too: no readable side at all, never an 'end' (child stdin).
    if (options.readable === false && options.fd !== undefined) (streamOptions as { readable?: boolean }).readable = false;
    super(streamOptions, options.loop ?? defaultLoop);
    this.noDelay = options.noDelay !== false;
    this.keepAlive = options.keepAlive === true;
    if (options.keepAliveInitialDelay) this.x.keepAliveDelay = options.keepAliveInitialDelay;
    this.on('end', onReadableStreamEnd);
    const onread = options.onread;
    // As Node's: taken when well-formed, ignored otherwise.
    if (onread !== null && typeof onread === 'object' && (onread.buffer instanceof Uint8Array || typeof onread.buffer === 'function') && typeof onread.callback === 'function') {
      this._nodeOnread = onread;
    }
    if (options.fd !== undefined) {
      const fd = options.fd;
      if (!Number.isInteger(fd) || fd < 0) throw invalidArgType('options.fd', 'a non-negative integer', fd);
      sys.setNonBlocking(fd, true);
      const unix = sys.getsockopt(fd, SOL_SOCKET, sys.SO_DOMAIN) === sys.AF_UNIX;
      this._adopt(fd, unix, options.pauseOnCreate === true);
      if (options.readable === false) this.push(null);
      if (options.writable === false) this.end();
    }
    // Not through Duplex's options: an aborted signal destroys at once, and the fields of the
    // layers are initialized only after the Duplex constructor returns.
    if (options.signal !== undefined) addAbortSignal(options.signal, this);
  }

  // ══ Zero-copy reads ═════════════════════════════════════════════════════════════════════

  /**
   * Reads without a chunk: when set, each read is handed to `handler(buf, start, end)` — the
   * bytes are `buf[start]` to `buf[end - 1]`, where `buf` is the loop's read slab — instead of
   * a `'data'` event with a Buffer of their own. No object is made per read, which is what a
   * server parsing requests straight out of the bytes wants (examples/http-server.ts). The slab
   * holds other sockets' bytes too: stay within [start, end). The bytes stay valid after the
   * call. Setting it starts the flow as a 'data' listener does (it is one: data the stream
   * buffered arrives through it as (chunk, 0, chunk.length)); pause()/resume() apply. null
   * goes back to 'data' events. (Node's `onread` connect option copies into a caller's buffer.)
   */
  get onread(): ReadHandler | null {
    return this._onread as ReadHandler | null;
  }

  set onread(handler: ReadHandler | null) {
    if (handler !== null && typeof handler !== 'function') throw invalidArgType('onread', 'a function or null', handler);
    if (this.onreadForward !== null) {
      this.removeListener('data', this.onreadForward);
      this.onreadForward = null;
    }
    this._onread = handler;
    if (handler !== null) {
      const forward = (chunk: Buffer): void => handler.call(this, chunk, 0, chunk.length);
      this.onreadForward = forward;
      this.on('data', forward);
    }
  }

  // ══ Opening ═════════════════════════════════════════════════════════════════════════════

  /** @internal Adopt an accepted (or given), connected, non-blocking fd. */
  _adopt(fd: number, unix: boolean, paused = false): void {
    this.fd = fd;
    this.unix = unix;
    this.connected = true;
    this.watcher = this.loop.watch(fd, EPOLLONESHOT, onSocketEvents);
    this.interest = EPOLLONESHOT;
    this.watcher.data = this;
    this.watcher.onLoopClose = destroyOnLoopClose;
    this.loopState.setStream(this.watcher, this);
    if (!this.refed) this.watcher.unref();
    this.applyTcpOptions();
    if (paused) {
      (this as unknown as { readableFlowing: boolean | null }).readableFlowing = false;
      this.updateInterest(); // not reading: not active (see updateInterest)
    } else {
      // Reading starts at once, as in Node (read(0)): data is buffered until someone consumes it.
      this.read(0);
    }
  }

  /**
   * Connect: `connect(port, host?, cb?)`, `connect(path, cb?)` or `connect(options, cb?)` —
   * host names are resolved with `dns.lookup` (or `options.lookup`), `'lookup'` reports it, and
   * with `autoSelectFamily` every address is tried in turn (Node's happy eyeballs). A socket
   * that has closed can connect again.
   */
  connect(options: ConnectOptions, connectListener?: () => void): this;
  connect(port: number | string, host?: string, connectListener?: () => void): this;
  connect(port: number | string, connectListener?: () => void): this;
  connect(path: string, connectListener?: () => void): this;
  connect(...args: ConnectArgs): this {
    if (this.write !== SocketImpl.prototype.write) this.write = SocketImpl.prototype.write;
    if (this.destroyed) this.reopen();
    startConnect(this, args);
    return this;
  }

  /** A closed socket connecting again: fresh stream state (Node's _undestroy). */
  private reopen(): void {
    (this as unknown as { _undestroy(): void })._undestroy();
    this.connected = false;
    this.readOnConnect = false;
    this.readEnded = false;
    // Counted per connection, as Node's come from the handle.
    this.bytesRead = 0;
    this._bytesDispatched = 0;
    this._hadError = false;
    this.interest = 0;
    this.wq = null;
    this.writeCb = null;
    if (this.ext !== null) this.ext.peer = null;
  }

  /** @internal Open an fd and start a non-blocking connect to `endpoint`; false + destroy on failure. */
  _connectTo(endpoint: Endpoint, local?: { address?: string; port?: number }): Error | null {
    let fd = -1;
    try {
      fd = sys.socket(endpoint.domain, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
      if (local !== undefined && (local.address !== undefined || local.port !== undefined)) {
        const any = endpoint.domain === sys.AF_INET6 ? '::' : '0.0.0.0';
        try {
          sys.bind(fd, local.address ?? any, local.port ?? 0);
        } catch (e) {
          throw fromSys(e, 'bind', local.address ?? any, local.port ?? 0);
        }
      }
      const r =
        endpoint.domain === sys.AF_UNIX ? sys.connect(fd, endpoint.address) : sys.connect(fd, endpoint.address, endpoint.port);
      // A Unix listener with a full queue says EAGAIN; report it like Node does.
      if (r === EAGAIN) throw errnoError(EAGAIN, 'connect', endpoint.address, endpoint.port);
      // Even an immediate success is reported asynchronously, from the loop (as in Node).
      this.watcher = this.loop.watch(fd, EPOLLOUT, onSocketEvents);
    } catch (e) {
      if (fd >= 0) sys.close(fd);
      const s = e as { syscall?: string };
      return fromSys(e, s.syscall === 'bind' ? 'bind' : 'connect', endpoint.address, endpoint.port);
    }
    this.fd = fd;
    this.x.endpoint = endpoint;
    this.unix = endpoint.domain === sys.AF_UNIX;
    this.watcher.data = this;
    this.watcher.onLoopClose = destroyOnLoopClose;
    this.loopState.setStream(this.watcher, this);
    this.interest = EPOLLOUT;
    if (!this.refed) this.watcher.unref();
    return null;
  }

  /** @internal Abandon a connect attempt (autoSelectFamily moving to the next address). */
  _abandonAttempt(): void {
    if (this.watcher !== null) {
      this.watcher.close();
      this.watcher = null;
    }
    if (this.fd >= 0) {
      sys.close(this.fd);
      this.fd = -1;
    }
  }

  private finishConnect(): void {
    const err = sys.getsockopt(this.fd, SOL_SOCKET, SO_ERROR);
    const report = this._connectResult;
    if (err !== 0) {
      this._abandonAttempt();
      const ep = this.x.endpoint;
      if (report !== null) report(errnoError(err, 'connect', ep?.address, ep?.port));
      return;
    }
    this._connectResult = null;
    this._cancelConnect?.();
    this._cancelConnect = null;
    this.connecting = false;
    this.connected = true;
    this.applyTcpOptions();
    if (this.ext !== null) this.ext.lastActive = this.loop.now();
    this.updateInterest();
    if (this.destroyed) return;
    // As Node's afterConnect: 'connect' first (a write made while connecting goes out from a
    // 'connect' listener of its own: socket-write.ts), then reading starts — unless a listener paused
    // the socket (then it does not read, and, idle, does not keep the loop alive). In a finally:
    // a listener that throws must not leave the socket deaf (the loop reports the error and goes
    // on; docs/reliability.md, "Faults under load").
    try {
      this.emit('connect');
      this.emit('ready');
    } finally {
      if (!this.destroyed) {
        if (this.readOnConnect) {
          this.readOnConnect = false;
          this._read();
        }
        if (this.readable && !this.isPaused()) this.read(0);
      }
    }
  }

  // ══ Events from the loop ════════════════════════════════════════════════════════════════

  /** @internal The watcher's callback (the loop has already handed over any read: _onRead). */
  _onEvents(events: number): void {
    if (this.connecting) {
      if (this.fd >= 0) this.finishConnect();
      return;
    }
    if (events & EPOLLOUT && this.wq !== null) this.flush();
    if (this.destroyed || this._wantsRead) return;
    if (events & EPOLLERR && this.fd >= 0 && this.wq !== null) {
      // Not reading, but writing: no read() reports it, fetch the pending error ourselves.
      const err = sys.getsockopt(this.fd, SOL_SOCKET, SO_ERROR);
      if (err !== 0) this.destroy(errnoError(err, 'read'));
    }
    // A lone EPOLLHUP while not reading is silenced by the EPOLLONESHOT interest (see
    // updateInterest): the data stays in the kernel until the stream reads again.
  }

  // ══ Closing ═════════════════════════════════════════════════════════════════════════════

  /** @internal EPOLL_CTL_DEL, close(fd); 'close' follows next iteration. */
  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    const hadFd = this.fd >= 0 || this.connecting;
    this._cancelConnect?.();
    this._cancelConnect = null;
    this._connectResult = null;
    this.connecting = false;
    this._wantsRead = false;
    if (this.ext !== null) {
      this.ext.timeoutTimer?.close();
      this.ext.timeoutTimer = null;
      const pending = this.ext.pendingWrite;
      this.ext.pendingWrite = null;
      this.ext.finalCb = null;
      this.ext.bytesPending = 0;
      if (pending) process.nextTick(pending.cb, codedError('ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established'));
    }
    if (this.watcher !== null) {
      this.watcher.close();
      this.watcher = null;
    }
    if (this.fd >= 0) {
      if (this._batchBytes > 0) this.loopState.streams.sendNow(this);
      sys.close(this.fd);
      this.fd = -1;
    }
    this.wq = null;
    const inflight = this.writeCb;
    this.writeCb = null;
    if (inflight !== null) process.nextTick(inflight, null);
    this._hadError = error !== null && error !== undefined;
    cb(error);
    if (hadFd && !this.loop.closed && !this.loopState.closing) this.loopState.defer(emitClose, this);
    else process.nextTick(emitClose, this);
    this._server?._connectionClosed();
    this._server = null;
  }

  /** Like Node's `resetAndDestroy`: close with RST (SO_LINGER {1, 0}) instead of FIN. */
  resetAndDestroy(): this {
    if (this.fd >= 0 && !this.destroyed) {
      if (this.connecting) {
        this.destroy(codedError('ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established'));
        return this;
      }
      sys.setsockopt(this.fd, SOL_SOCKET, sys.SO_LINGER, sys.linger(true, 0));
    } else if (!this.destroyed && this.fd < 0 && !this.connecting) {
      this.destroy(codedError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return this;
    }
    return this.destroy();
  }

  /** End, then destroy once finished (Node's; http uses it). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }
}

// Typed events, as @types/node declares them for Node's Socket (declarations only: no wrapper
// runs on emit).
export interface SocketImpl {
  on<K extends keyof SocketEvents>(event: K, listener: Listener<K>): this;
  on(event: string | symbol, listener: AnyListener): this;
  once<K extends keyof SocketEvents>(event: K, listener: Listener<K>): this;
  once(event: string | symbol, listener: AnyListener): this;
  addListener<K extends keyof SocketEvents>(event: K, listener: Listener<K>): this;
  addListener(event: string | symbol, listener: AnyListener): this;
  prependListener<K extends keyof SocketEvents>(event: K, listener: Listener<K>): this;
  prependListener(event: string | symbol, listener: AnyListener): this;
  prependOnceListener<K extends keyof SocketEvents>(event: K, listener: Listener<K>): this;
  prependOnceListener(event: string | symbol, listener: AnyListener): this;
  off<K extends keyof SocketEvents>(event: K, listener: Listener<K>): this;
  off(event: string | symbol, listener: AnyListener): this;
  removeListener<K extends keyof SocketEvents>(event: K, listener: Listener<K>): this;
  removeListener(event: string | symbol, listener: AnyListener): this;
  emit<K extends keyof SocketEvents>(event: K, ...args: SocketEvents[K]): boolean;
  emit(event: string | symbol, ...args: unknown[]): boolean;
}

/** A Socket, callable with or without `new` (as Node's). */
export type Socket = SocketImpl;
export interface SocketConstructor {
  new (options?: SocketOptions): Socket;
  (options?: SocketOptions): Socket;
  readonly prototype: Socket;
}
export const Socket = new Proxy(SocketImpl, {
  apply(target, _this, args: [SocketOptions?]) {
    return new target(...args);
  },
}) as unknown as SocketConstructor;
