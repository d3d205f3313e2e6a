/**
 * A TCP (or Unix stream) connection on the reactor: a `stream.Duplex`, as Node's `net.Socket` is.
 *
 * The reactor moves the bytes; the stream machinery sits on top:
 * - **Reading** is done by the loop (lib/reactor/stream-batch.ts): each iteration, every socket
 *   that is readable and wants data is read with one `read_many` call, into a shared slab. A
 *   chunk is a view of the slab nothing writes again. `_read()` (the stream asking for data)
 *   starts reading; `push()` returning false (the readable buffer is at its high-water mark)
 *   stops it — Node's readStart/readStop. A socket that flows with nothing buffered skips the
 *   buffer: the chunk goes straight to `'data'` (what `push()` itself does then), or, with
 *   `onread` set, the slab range goes to the handler with no chunk made at all.
 *   Sockets are registered edge-triggered; see read-side notes at `_readAgain`.
 * - **Writing**: `_write`/`_writev` (the stream hands over one write, or everything it buffered,
 *   at a time). Inside an iteration a write joins the loop's batch (one `send_many` for every
 *   socket); outside, it is sent at once. What the kernel does not take waits in the socket's
 *   queue (write-queue.ts) for EPOLLOUT. The stream's callback runs once the kernel has it all.
 * - **Ending**: `_final` is `shutdown(SHUT_WR)` once everything is out; `_destroy` is
 *   `EPOLL_CTL_DEL` + `close(fd)`, then `'close'` (with `hadError`) on the next iteration, as
 *   Node's comes from the handle's close callback.
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import { invalidArgType, outOfRange } from '../errors';
import { loop as defaultLoop, type Loop, type Timer, type Watcher } from '../reactor/index';
import { type StreamOwner, slabChunk } from '../reactor/stream-batch';
import type { LoopState } from '../reactor/core';
import { internals } from '../reactor/internal';
import * as sys from '../sys/index';
import type { Endpoint } from './address';
import { type ConnectArgs, type ConnectOptions, startConnect } from './connect';
import { codedError, errnoError, fromSys } from './errors';
import { WriteQueue } from './write-queue';

const { EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLET, EPOLLONESHOT, EAGAIN, SOL_SOCKET, SO_ERROR, IPPROTO_TCP, TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE } =
  sys;
const ENOBUFS = -sys.errno.ENOBUFS!;
/** Writes larger than this are not copied into the iteration's batch. */
const BATCH_MAX = 64 * 1024;

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
  /** Node's `onread` option is not supported (see Socket.onread for our zero-copy form). */
  onread?: never;
}

export type WriteCallback = (error?: Error | null) => void;
/** See Socket.onread: the bytes read are `buf[start]` to `buf[end - 1]`. */
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

/** Node's writeAfterFIN: once the peer has ended a socket that is not half-open. */
function writeAfterFIN(this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) return Duplex.prototype.write.call(this, chunk, encoding as BufferEncoding, cb as WriteCallback);
  if (typeof encoding === 'function') cb = encoding;
  const er = codedError('EPIPE', 'This socket has been ended by the other party');
  if (typeof cb === 'function') process.nextTick(cb as WriteCallback, er);
  this.destroy(er);
  return false;
}

/** State used by few sockets (timeouts, peers, keep-alive): allocated on first use. */
class SocketExtras {
  timeoutMs = 0;
  timeoutTimer: Timer | null = null;
  lastActive = 0;
  peer: sys.SocketAddress | null = null;
  keepAliveDelay = 0;
  /** The write waiting for the connect to finish. */
  pendingWrite: { bufs: Uint8Array[]; cb: WriteCallback } | null = null;
  bytesPending = 0;
  /** Where the connect under way goes (for its error's message). */
  endpoint: Endpoint | null = null;
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
export class SocketImpl extends Duplex implements StreamOwner {
  /** The fd, or −1 before connect / after close. */
  fd = -1;
  readonly loop: Loop;
  /** The loop's internal state (its write batch, whether it is mid-iteration, deferred callbacks). */
  private readonly loopState: LoopState;
  /** Bytes received so far. */
  bytesRead = 0;
  /** A non-blocking connect (or the name lookup before it) is under way. */
  connecting = false;
  /** @internal Bytes handed to the kernel or to the reactor's queues (Node's _bytesDispatched). */
  _bytesDispatched = 0;
  /** @internal The Server that accepted this socket. */
  _server: { _connectionClosed(): void } | null = null;
  /** The Server that accepted this socket (as Node's `socket.server`). */
  server: unknown = null;
  /** @internal 'close' says whether an error destroyed the socket. */
  _hadError = false;
  /** @internal Wants its readable data read by the loop now. */
  _wantsRead = false;
  /** @internal */ _readSlot = -1;
  /** @internal */ _batchBytes = 0;
  /** @internal */ _batchCursor = 0;
  /** @internal */ _batchSent = 0;
  /** @internal */ _batchCallbacks = false;
  /** @internal The `onread` handler, or null: 'data' events. */
  _onread: ReadHandler | null = null;
  /** The addresses tried by autoSelectFamily, as Node's. */
  autoSelectFamilyAttemptedAddresses?: string[];

  private connected = false;
  private readOnConnect = false;
  private readEnded = false;
  private unix = false;
  private refed = true;
  private noDelay: boolean;
  private keepAlive: boolean;
  private watcher: Watcher | null = null;
  private interest = 0;
  /** The write in flight: its callback runs when the kernel has all of it. */
  private writeCb: WriteCallback | null = null;
  private wq: WriteQueue | null = null;
  /** Remainders of this iteration's batch put back at the head of the queue so far. */
  private requeued = 0;
  private ext: SocketExtras | null = null;
  private onreadForward: ((chunk: Buffer) => void) | null = null;
  private readonly captureRejections: boolean;
  /** @internal Cancels a connect under way (lookup, attempts). */
  _cancelConnect: (() => void) | null = null;

  private get x(): SocketExtras {
    return (this.ext ??= new SocketExtras());
  }

  constructor(options: SocketOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    if (options.onread !== undefined) throw codedError('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', 'The "onread" option is not supported: use socket.onread');
    const streamOptions: DuplexOptions = {
      allowHalfOpen: Boolean(options.allowHalfOpen),
      emitClose: false,
      autoDestroy: true,
      decodeStrings: false,
    };
    if (options.highWaterMark !== undefined) streamOptions.highWaterMark = options.highWaterMark;
    if (options.readableHighWaterMark !== undefined) streamOptions.readableHighWaterMark = options.readableHighWaterMark;
    if (options.writableHighWaterMark !== undefined) streamOptions.writableHighWaterMark = options.writableHighWaterMark;
    if (options.signal !== undefined) streamOptions.signal = options.signal;
    super(streamOptions);
    this.loop = options.loop ?? defaultLoop;
    this.loopState = internals(this.loop);
    this.noDelay = options.noDelay !== false;
    this.keepAlive = options.keepAlive === true;
    this.captureRejections = (this as unknown as Record<symbol, boolean>)[Symbol.for('nodejs.rejection')] !== undefined;
    if (options.keepAliveInitialDelay) this.x.keepAliveDelay = options.keepAliveInitialDelay;
    this.on('end', onReadableStreamEnd);
    if (options.fd !== undefined) {
      const fd = options.fd;
      if (!Number.isInteger(fd) || fd < 0) throw invalidArgType('options.fd', 'a non-negative integer', fd);
      sys.setNonBlocking(fd, true);
      const unix = sys.getsockopt(fd, SOL_SOCKET, sys.SO_DOMAIN) === sys.AF_UNIX;
      this._adopt(fd, unix, options.pauseOnCreate === true);
      if (options.readable === false) this.push(null);
      if (options.writable === false) this.end();
    }
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
    return this._onread;
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

  /** @internal The pending connect's outcome: null when connected, else the error (fd closed). */
  _connectResult: ((error: Error) => void) | null = null;

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
    const pending = this.ext?.pendingWrite;
    if (pending) {
      this.ext!.pendingWrite = null;
      this.ext!.bytesPending = 0;
      this.dispatch(pending.bufs, pending.cb);
    }
    if (this.destroyed) return;
    // Reading starts before the listeners run: one that throws must not leave the socket deaf
    // (the loop reports the error and goes on; docs/reliability.md, "Faults under load").
    if (this.readOnConnect) {
      this.readOnConnect = false;
      this._read();
    }
    if (this.readable && !this.isPaused()) this.read(0);
    this.emit('connect');
    this.emit('ready');
  }

  private applyTcpOptions(): void {
    if (this.unix || this.fd < 0) return;
    try {
      if (this.noDelay) sys.setsockopt(this.fd, IPPROTO_TCP, TCP_NODELAY, 1);
      if (this.keepAlive) this.setKeepAlive(true, this.ext?.keepAliveDelay ?? 0);
    } catch {
      // A socket reset before we got to it: the first read or write reports it.
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
    if (events & EPOLLERR && this.fd >= 0) {
      // Not reading, so no read() reports it: fetch the pending error ourselves.
      const err = sys.getsockopt(this.fd, SOL_SOCKET, SO_ERROR);
      if (err !== 0) this.destroy(errnoError(err, 'read'));
    }
    // A lone EPOLLHUP while not reading is silenced by the EPOLLONESHOT interest (see
    // updateInterest): the data stays in the kernel until the stream reads again.
  }

  /** @internal This iteration's read, from the loop's batch: n bytes at `start` of the slab, 0 = EOF, −errno. */
  _onRead(n: number, slab: ArrayBuffer, start: number, slabBuf: Buffer): void {
    if (n > 0) {
      this.bytesRead += n;
      if (this.ext !== null) this.ext.lastActive = this.loop.now();
      const rs = (this as unknown as { _readableState: ReadableStateView })._readableState;
      // Flowing with nothing buffered: what push() would do (emit 'data' now), minus its work.
      if (rs.flowing === true && rs.length === 0 && rs.decoder === null) {
        if (!rs.dataEmitted) rs.dataEmitted = true;
        const onread = this._onread;
        if (onread !== null) onread.call(this, slabBuf, start, start + n);
        else this.deliver(slabChunk(slab, start, n));
      } else if (!this.push(slabChunk(slab, start, n))) {
        this.stopReading();
      }
    } else if (n === 0) {
      this.onEof();
    } else if (n !== EAGAIN && n !== ENOBUFS) {
      this.destroy(errnoError(n, 'read'));
    }
    // −EAGAIN: a spurious wake-up; −ENOBUFS: no room in this batch (see _readAgain).
  }

  private deliver(chunk: Buffer): void {
    // One listener (the usual case): call it straight from the table, as emit() would — unless
    // rejections are captured, which only emit() does (a rejected async listener → 'error').
    const listener = (this as unknown as { _events: { data?: unknown } })._events.data;
    if (typeof listener === 'function' && !this.captureRejections) listener.call(this, chunk);
    else this.emit('data', chunk);
  }

  /**
   * @internal Its last read got all it asked for, or found no room in the batch, or came with
   * a FIN or an error in the same event (those are for the next read): there may be more, and
   * with an edge-triggered registration no new event would say so. EPOLL_CTL_MOD with
   * the same mask makes the kernel poll the socket again and, if it is still readable, queue it
   * for the next wait — where a level-triggered registration would have been reported anyway.
   */
  _readAgain(): void {
    if (this.watcher !== null && !this.destroyed && this.interest & EPOLLIN) this.watcher.modify(this.interest);
  }

  private onEof(): void {
    this.readEnded = true;
    this._wantsRead = false;
    this.updateInterest();
    this.push(null);
    // Get 'end' out even when nobody reads (as Node's onStreamRead does).
    this.read(0);
  }

  /** Recomputes the epoll interest from the state; one epoll_ctl only when it changed. */
  private updateInterest(): void {
    const watcher = this.watcher;
    if (watcher === null || this.destroyed) return;
    let want = this.connecting ? EPOLLOUT : 0;
    if (this._wantsRead) want |= EPOLLIN | EPOLLRDHUP;
    if (this.wq !== null) want |= EPOLLOUT;
    // Interested in nothing: EPOLLHUP/EPOLLERR are reported whatever the mask, and one-shot
    // reports them once at most. Otherwise edge-triggered; a MOD that adds EPOLLIN or EPOLLOUT
    // makes the kernel look at the socket, so readiness that came meanwhile is reported then.
    if (want === 0) want = EPOLLONESHOT;
    else want |= EPOLLET;
    if (want !== this.interest) {
      this.interest = want;
      watcher.modify(want);
    }
  }

  // ══ Reading control (the stream's side) ═════════════════════════════════════════════════

  /** @internal The stream wants data: the loop reads this socket until push() says enough. */
  override _read(): void {
    if (this.connecting || !this.connected) {
      // As Node's: read once connected (the stream will not ask again meanwhile).
      this.readOnConnect = true;
      return;
    }
    if (this.readEnded || this.destroyed) return;
    if (this._wantsRead) return;
    this._wantsRead = true;
    this.updateInterest();
  }

  private stopReading(): void {
    if (!this._wantsRead) return;
    this._wantsRead = false;
    this.updateInterest();
  }

  // ══ Writing (the stream's side) ═════════════════════════════════════════════════════════

  /** @internal */
  override _write(chunk: Buffer | string, encoding: BufferEncoding, cb: WriteCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    this.writeGeneric([buf], cb);
  }

  /** @internal */
  override _writev(chunks: { chunk: Buffer | string; encoding: BufferEncoding }[], cb: WriteCallback): void {
    const bufs: Uint8Array[] = new Array(chunks.length);
    for (let i = 0; i < chunks.length; i++) {
      const { chunk, encoding } = chunks[i]!;
      bufs[i] = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    }
    this.writeGeneric(bufs, cb);
  }

  private writeGeneric(bufs: Uint8Array[], cb: WriteCallback): void {
    if (this.connecting) {
      // As Node's: held until 'connect' (or failed with the connect's error).
      const x = this.x;
      x.pendingWrite = { bufs, cb };
      for (const b of bufs) x.bytesPending += b.length;
      return;
    }
    if (this.fd < 0 || this.destroyed) {
      cb(codedError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return;
    }
    if (this.ext !== null) this.ext.lastActive = this.loop.now();
    this.dispatch(bufs, cb);
  }

  /**
   * Hands one stream write to the kernel: into the iteration's batch when inside one (one
   * `send_many` for every socket), else `send`/`sendmsg` now; the rest waits for EPOLLOUT.
   */
  private dispatch(bufs: Uint8Array[], cb: WriteCallback): void {
    let total = 0;
    for (let i = 0; i < bufs.length; i++) total += bufs[i]!.length;
    this._bytesDispatched += total;
    const streams = this.loopState.streams;
    if (this.loopState.inTurn && this.wq === null && total <= BATCH_MAX && streams.canTake(total)) {
      for (let i = 0; i < bufs.length; i++) streams.addWrite(this, bufs[i]!, undefined);
      this.writeCb = cb;
      return;
    }
    this.writeCb = cb;
    const wq = (this.wq ??= new WriteQueue());
    for (let i = 0; i < bufs.length; i++) wq.push(bufs[i]!);
    this.flush();
  }

  /** Writes as much of the queue as the kernel takes; the write's callback when all is out. */
  private flush(): void {
    // Writes behind this iteration's batch wait for it (_onBatchDone looks again).
    if (this._batchBytes > 0 || this.wq === null) return;
    let error: Error | null = null;
    try {
      this.wq.send(this.fd);
    } catch (e) {
      error = fromSys(e, 'write');
    }
    if (this.ext !== null) this.ext.lastActive = this.loop.now();
    if (error !== null) {
      this.wq = null;
      this.completeWrite(error);
      return;
    }
    if (this.wq.empty) {
      this.wq = null;
      this.completeWrite(null);
    }
    this.updateInterest();
  }

  private completeWrite(error: Error | null): void {
    const cb = this.writeCb;
    this.writeCb = null;
    if (cb !== null) cb(error);
  }

  /** @internal All of this iteration's batched writes went out. */
  _onBatchSent(_sent: number): void {}

  /** @internal One of this iteration's batched writes, settled after the batch send. */
  _onBatchPiece(buf: Uint8Array): void {
    if (this.destroyed) return;
    let sent = this._batchSent;
    if (sent === EAGAIN) sent = this._batchSent = 0;
    if (sent < 0) {
      if (this.wq === null || !this.wq.failed) {
        (this.wq ??= new WriteQueue()).failed = errnoError(sent, 'write');
      }
      return;
    }
    if (sent >= buf.length) {
      this._batchSent = sent - buf.length;
      return;
    }
    // The kernel took only part: the rest waits in our queue.
    this._batchSent = 0;
    (this.wq ??= new WriteQueue()).insert(this.requeued++, sent > 0 ? buf.subarray(sent) : buf);
  }

  /** @internal All of this iteration's batched writes are settled. */
  _onBatchDone(): void {
    this.requeued = 0;
    if (this.destroyed) return;
    if (this.ext !== null) this.ext.lastActive = this.loop.now();
    const wq = this.wq;
    if (wq?.failed) {
      this.wq = null;
      this.completeWrite(wq.failed);
      return;
    }
    if (wq === null) this.completeWrite(null);
    else this.updateInterest();
  }

  /** @internal end(): shutdown(SHUT_WR) once the writes are out (the stream calls this after them). */
  override _final(cb: (error?: Error | null) => void): void {
    if (this.connecting) {
      this.once('connect', () => this._final(cb));
      return;
    }
    if (this.fd < 0 || !this.connected) {
      cb();
      return;
    }
    try {
      sys.shutdown(this.fd, sys.SHUT_WR);
    } catch (e) {
      // ENOTCONN: the peer reset the connection already; the read side will tell.
      if (!sys.isSystemError(e, 'ENOTCONN')) {
        cb(fromSys(e, 'shutdown'));
        return;
      }
    }
    cb();
  }

  /** Bytes written: handed to the kernel or queued below the stream, plus what the stream buffers. */
  get bytesWritten(): number {
    let bytes = this._bytesDispatched + (this.ext?.bytesPending ?? 0);
    const buffered = (this as unknown as { writableBuffer: unknown }).writableBuffer as { chunk: Buffer | string; encoding: BufferEncoding }[] | undefined;
    if (buffered) {
      for (const el of buffered) bytes += typeof el.chunk === 'string' ? Buffer.byteLength(el.chunk, el.encoding) : el.chunk.length;
    }
    return bytes;
  }

  /** Node's deprecated alias of writableLength. */
  get bufferSize(): number {
    return this.writableLength;
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

  // ══ Options and addresses ═══════════════════════════════════════════════════════════════

  setNoDelay(noDelay = true): this {
    this.noDelay = Boolean(noDelay);
    if (this.connected && !this.destroyed && !this.unix) sys.setsockopt(this.fd, IPPROTO_TCP, TCP_NODELAY, noDelay ? 1 : 0);
    return this;
  }

  setKeepAlive(enable = false, initialDelayMs = 0): this {
    this.keepAlive = Boolean(enable);
    if (initialDelayMs || this.ext) this.x.keepAliveDelay = initialDelayMs;
    if (!this.connected || this.destroyed || this.unix || this.fd < 0) return this;
    sys.setsockopt(this.fd, SOL_SOCKET, SO_KEEPALIVE, enable ? 1 : 0);
    if (enable && initialDelayMs > 0) {
      sys.setsockopt(this.fd, IPPROTO_TCP, TCP_KEEPIDLE, Math.max(1, Math.floor(initialDelayMs / 1000)));
    }
    return this;
  }

  /**
   * Emit `'timeout'` after `ms` of inactivity (no bytes read or written); 0 disables. As in Node,
   * the socket is not closed: the listener decides.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number') throw invalidArgType('msecs', 'of type number', ms);
    if (!(ms >= 0) || !Number.isFinite(ms)) throw outOfRange('msecs', 'a non-negative finite number', ms);
    if (callback !== undefined) {
      if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    const x = this.x;
    x.timeoutMs = ms;
    x.timeoutTimer?.close();
    x.timeoutTimer = null;
    if (ms > 0 && !this.destroyed) {
      x.lastActive = this.loop.updateTime();
      x.timeoutTimer = this.loop.setTimeout(() => this.checkTimeout(), ms).unref();
    }
    return this;
  }

  /** The inactivity timeout in ms (0: none), as Node's `socket.timeout`. */
  get timeout(): number | undefined {
    const ms = this.ext?.timeoutMs ?? 0;
    return ms > 0 ? ms : undefined;
  }

  private checkTimeout(): void {
    const x = this.x;
    if (this.destroyed || x.timeoutMs === 0) return;
    const idle = this.loop.now() - x.lastActive;
    if (idle >= x.timeoutMs) {
      x.lastActive = this.loop.now();
      x.timeoutTimer!.refresh();
      this.emit('timeout');
    } else {
      x.timeoutTimer = this.loop.setTimeout(() => this.checkTimeout(), x.timeoutMs - idle).unref();
    }
  }

  get remoteAddress(): string | undefined {
    return this.peerAddress()?.address;
  }

  get remotePort(): number | undefined {
    const p = this.peerAddress()?.port;
    return p === undefined || p < 0 ? undefined : p;
  }

  get remoteFamily(): string | undefined {
    return this.peerAddress()?.family;
  }

  get localAddress(): string | undefined {
    return this.address()?.address;
  }

  get localPort(): number | undefined {
    const p = this.address()?.port;
    return p === undefined || p < 0 ? undefined : p;
  }

  get localFamily(): string | undefined {
    return this.address()?.family;
  }

  /** getsockname(): `{ address, port, family }`, or `{}` when closed (as Node). */
  address(): sys.SocketAddress | Record<string, never> {
    if (this.fd < 0) return {};
    try {
      return sys.getsockname(this.fd);
    } catch {
      return {};
    }
  }

  private peerAddress(): sys.SocketAddress | undefined {
    if (!this.ext?.peer && this.fd >= 0 && this.connected) {
      try {
        this.x.peer = sys.getpeername(this.fd);
      } catch {
        return undefined;
      }
    }
    return this.ext?.peer ?? undefined;
  }

  /** 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed', as Node's. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** No connection yet (or no more): as Node's `socket.pending`. */
  get pending(): boolean {
    return this.fd < 0 || this.connecting;
  }

  /** Keep the loop alive for this socket (the default). */
  ref(): this {
    this.refed = true;
    this.watcher?.ref();
    return this;
  }

  /** Do not keep the loop alive for this socket alone. */
  unref(): this {
    this.refed = false;
    this.watcher?.unref();
    return this;
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

/** Node's onReadableStreamEnd: a socket that is not half-open fails writes after the peer's FIN. */
function onReadableStreamEnd(this: SocketImpl): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as SocketImpl['write'];
}

/** What the read path looks at in a ReadableState (getters in Node 20). */
interface ReadableStateView {
  flowing: boolean | null;
  length: number;
  decoder: unknown;
  dataEmitted: boolean;
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
