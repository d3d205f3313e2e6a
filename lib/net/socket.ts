/**
 * A TCP (or Unix stream) connection on the reactor, shaped like Node's `net.Socket`.
 *
 * How the bytes move:
 * - **Reading** is done by the loop (lib/reactor/stream-batch.ts): each iteration, every socket
 *   that is readable and wants data is read with one `read_many` call for all of them, into a
 *   shared slab, packed. Each `'data'` chunk is a view of the slab that nothing will ever write
 *   again: keep it, queue it, write it back — it stays valid. (A chunk keeps its slab alive; copy
 *   small chunks you hold for long with `Buffer.from(chunk)`.) One read per socket per iteration:
 *   a socket with more to read is served again next iteration, after the others and the timers,
 *   so a flooding peer cannot starve them. Sockets are registered edge-triggered (`EPOLLET`):
 *   the kernel then polls a reported socket once, not once more at the next wait to see whether
 *   it is still ready. A read shorter than asked for has drained the socket (new bytes bring a
 *   new edge), unless its event also carried a FIN or an error (those are for the next read);
 *   after such a read, or one that got all it asked for, `_readAgain` re-arms the registration.
 * - **Writing**: a write made inside an iteration is collected and sent, with every other
 *   socket's, by one `send_many` when the iteration's callbacks are done (`MSG_NOSIGNAL`: a gone
 *   peer is EPIPE, never SIGPIPE). A write made outside an iteration (from a Node callback, a
 *   promise job) is sent at once. What the kernel does not take is queued and flushed with one
 *   `sendmsg()` (gather write) when EPOLLOUT says there is room. `write()` returns false above
 *   the high-water mark; `'drain'` comes when the queue falls to the low-water mark.
 * - **Ending**: `end()` flushes what is pending, then `shutdown(SHUT_WR)`. The fd is closed
 *   (after `EPOLL_CTL_DEL`) when both directions are done, or at once by `destroy()`.
 */
import { EventEmitter } from 'node:events';
import { invalidArgType, outOfRange } from '../errors';
import { loop as defaultLoop, type Loop, type Timer, type Watcher } from '../reactor/index';
import type { LoopState } from '../reactor/core';
import { internals } from '../reactor/internal';
import { type StreamOwner, slabChunk } from '../reactor/stream-batch';
import * as sys from '../sys/index';
import type { Endpoint } from './address';

const {
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  EPOLLERR,
  EPOLLHUP,
  EPOLLET,
  EPOLLONESHOT,
  EAGAIN,
  SOL_SOCKET,
  SO_ERROR,
  IPPROTO_TCP,
  TCP_NODELAY,
  SO_KEEPALIVE,
  TCP_KEEPIDLE,
} = sys;

/** Scratch for sendmsg's buffer list, reused by every flush. */
const gather: Buffer[] = [];
const MAX_GATHER = 1024;

export interface SocketOptions {
  /** The loop to run on (default: the default loop). */
  loop?: Loop;
  /** Keep the writable side open after the peer ends (default false: end too, like Node). */
  allowHalfOpen?: boolean;
  /** TCP_NODELAY (default true). */
  noDelay?: boolean;
  /** SO_KEEPALIVE (default false). */
  keepAlive?: boolean;
  /** TCP_KEEPIDLE in ms when keepAlive is on. */
  keepAliveInitialDelay?: number;
  /** write() returns false once this many bytes are queued (default 16 KiB). */
  writableHighWaterMark?: number;
  /** 'drain' is emitted when the queue falls to this many bytes (default 0: empty). */
  writableLowWaterMark?: number;
}

export type WriteCallback = (error?: Error | null) => void;
/** See Socket.onread: the bytes read are `buf[start]` to `buf[end - 1]`. */
export type ReadHandler = (this: Socket, buf: Buffer, start: number, end: number) => void;

/** Error with a Node-style `code` for stream misuse. */
function streamError(code: string, message: string): Error & { code: string } {
  const e = new Error(message) as Error & { code: string };
  e.code = code;
  return e;
}

function onSocketEvents(events: number, watcher: Watcher): void {
  (watcher.data as Socket)._onEvents(events);
}

function destroyOnLoopClose(watcher: Watcher): void {
  (watcher.data as Socket).destroy();
}

function emitClosing(socket: Socket): void {
  const error = socket.closeError;
  try {
    if (error !== null) socket.emit('error', error);
  } finally {
    socket.emit('close', error !== null); // even when 'error' had no listener and threw
  }
}

/**
 * @example
 * ```ts
 * import { net } from 'epoll-reactor';
 * const socket = net.connect(8080, '127.0.0.1', () => socket.end('hello'));
 * socket.on('data', (chunk) => console.log(chunk.toString()));
 * ```
 */
const ENOBUFS = -sys.errno.ENOBUFS!;
/** Bytes read and held while nobody consumes them, before reading stops. */
const READ_HWM = 64 * 1024;

/** Writes larger than this are not copied into the iteration's batch (unless order demands). */
const BATCH_MAX = 64 * 1024;

/** State used by few sockets (timeouts, connect targets, errors): allocated on first use. */
class SocketExtras {
  timeoutMs = 0;
  timeoutTimer: Timer | null = null;
  lastActive = 0;
  peer: sys.SocketAddress | null = null;
  endpoint: Endpoint | null = null;
  batchError: Error | null = null;
  closeError: Error | null = null;
  keepAliveDelay = 0;
}

/** The write queue: buffers and their callbacks from `head` on (allocated when first needed). */
interface WriteQueue {
  bufs: Buffer[];
  cbs: (WriteCallback | undefined)[];
  head: number;
}

// Boolean state, packed into one integer per socket (`flags`): an idle connection should cost as
// little memory as possible. Each name becomes a getter/setter on Socket.prototype (below).
const FLAGS = {
  connecting: 1 << 0,
  destroyed: 1 << 1,
  connected: 1 << 2,
  readEnded: 1 << 3,
  writeEnded: 1 << 4,
  writeShut: 1 << 5,
  refed: 1 << 6,
  unix: 1 << 7,
  needDrain: 1 << 8,
  noDelay: 1 << 9,
  keepAlive: 1 << 10,
  heldEof: 1 << 11,
  allowHalfOpen: 1 << 12,
  captureRejections: 1 << 13,
} as const;

/** EventEmitter's own listener type. */
type Listener = Parameters<EventEmitter['on']>[1];

/** A listener table for EventEmitter with no prototype but fast properties (see the constructor). */
const ListenerTable = function ListenerTable() {} as unknown as new () => object;
ListenerTable.prototype = Object.create(null);

export class Socket extends EventEmitter implements StreamOwner {
  /** The fd, or −1 before connect / after close. */
  fd = -1;
  readonly loop: Loop;
  /** The loop's internal state (its write batch, whether it is mid-iteration). */
  private readonly loopState: LoopState;
  /** Bytes received and sent so far. */
  bytesRead = 0;
  bytesWritten = 0;
  writableHighWaterMark: number;
  writableLowWaterMark: number;
  /** Keep the writable side open after the peer ends (Node's allowHalfOpen). */
  declare readonly allowHalfOpen: boolean;
  /** A non-blocking connect is under way. */
  declare connecting: boolean;
  /** destroy() has been called: the fd is closed. */
  declare destroyed: boolean;
  declare private connected: boolean;
  declare private readEnded: boolean;
  declare private writeEnded: boolean;
  declare private writeShut: boolean;
  declare private refed: boolean;
  /** A Unix stream socket: no TCP options. */
  declare private unix: boolean;
  declare private needDrain: boolean;
  declare private noDelay: boolean;
  declare private keepAlive: boolean;
  declare private heldEof: boolean;
  /** EventEmitter.captureRejections was on when it was made: 'data' goes through emit(). */
  declare private captureRejections: boolean;
  /** @internal The bits behind the boolean properties above. */
  flags: number = FLAGS.refed;

  private watcher: Watcher | null = null;
  private interest = 0;
  /** @internal Wants its readable data read (not at EOF, not holding too much unconsumed). */
  _wantsRead = false;
  /**
   * Node's three reading states: null (nobody consumes yet: data is read and held), true
   * (flowing: 'data' events), false (paused: held). Held data is capped at READ_HWM, after which
   * the socket stops reading until it flows again.
   */
  private flowing: boolean | null = null;
  /** @internal */ _readSlot = -1;
  /** @internal */ _batchBytes = 0;
  /** @internal */ _batchCursor = 0;
  /** @internal */ _batchSent = 0;
  /** @internal */ _batchCallbacks = false;
  /** @internal The `onread` handler, or null: 'data' events. */
  _onread: ReadHandler | null = null;
  /** Data read but not consumed yet (not flowing): handed over in order when it flows. */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  private corks = 0;
  private wq: WriteQueue | null = null;
  /** Bytes in the write queue. */
  private queued = 0;
  /** Remainders of this iteration's batch put back at the head of the queue so far. */
  private requeued = 0;
  private ext: SocketExtras | null = null;
  /** @internal Set by the Server that accepted this socket. */
  _server: { _connectionClosed(): void } | null = null;

  private get x(): SocketExtras {
    return (this.ext ??= new SocketExtras());
  }

  /** @internal The error destroy() was given, emitted with 'close'. */
  get closeError(): Error | null {
    return this.ext?.closeError ?? null;
  }

  constructor(options: SocketOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    this.loop = options.loop ?? defaultLoop;
    this.loopState = internals(this.loop);
    if (options.allowHalfOpen === true) this.flags |= FLAGS.allowHalfOpen;
    this.noDelay = options.noDelay !== false;
    this.keepAlive = options.keepAlive === true;
    if (options.keepAliveInitialDelay) this.x.keepAliveDelay = options.keepAliveInitialDelay;
    this.writableHighWaterMark = options.writableHighWaterMark ?? 16 * 1024;
    this.writableLowWaterMark = options.writableLowWaterMark ?? 0;
    // EventEmitter keeps listeners in `{ __proto__: null }`, which V8 makes a dictionary
    // (~450 bytes per socket with a handful of events, and a hash lookup per 'data'); the same
    // table as a fast object with in-object fields is ~60 bytes and a plain property load.
    // Node's own emitters did this (an `EventHandlers` constructor) until Node 10.
    // EventEmitter puts a fresh dictionary back once every listener is removed: still correct.
    const self = this as unknown as { _events: object; _eventsCount: number };
    self._events = new ListenerTable();
    self._eventsCount = 0;
    if (EventEmitter.captureRejections) this.captureRejections = true;
  }

  /**
   * Reads without a chunk: when set, each read is handed to `handler(buf, start, end)` — the
   * bytes are `buf[start]` to `buf[end - 1]`, where `buf` is the loop's read slab — instead of
   * a `'data'` event with a Buffer of their own. No object is made per read (the chunk, ~80
   * bytes of garbage each), which is what a server parsing requests straight out of the bytes
   * wants (examples/http-server.ts). The slab holds other sockets' bytes too: stay within
   * [start, end), or copy out what must be confined. Otherwise as 'data': the bytes stay
   * valid after the call (nothing writes to the slab again; do not write to it either),
   * setting it starts the flow as a 'data' listener does, pause()/resume() and backpressure
   * apply, and data held before it was set arrives through it (as (chunk, 0, chunk.length)).
   * null goes back to 'data' events.
   * Node's sockets have a cousin, `onread` in `net.connect()` options, which copies each read
   * into a buffer of the caller's.
   */
  get onread(): ReadHandler | null {
    return this._onread;
  }

  set onread(handler: ReadHandler | null) {
    if (handler !== null && typeof handler !== 'function') throw invalidArgType('onread', 'a function or null', handler);
    this._onread = handler;
    if (handler !== null && this.flowing !== false) this.resume();
  }

  // Like a Node stream: attaching a 'data' listener starts the flow, unless pause() was called.
  // (EventEmitter's once() goes through on(); the prepend forms do not, hence their own.)
  override on(event: string | symbol, listener: Listener): this {
    super.on(event, listener);
    if (event === 'data' && this.flowing !== false) this.resume();
    return this;
  }

  override addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  override prependListener(event: string | symbol, listener: Listener): this {
    super.prependListener(event, listener);
    if (event === 'data' && this.flowing !== false) this.resume();
    return this;
  }

  override prependOnceListener(event: string | symbol, listener: Listener): this {
    super.prependOnceListener(event, listener);
    if (event === 'data' && this.flowing !== false) this.resume();
    return this;
  }

  // ══ Opening ═════════════════════════════════════════════════════════════════════════════

  /** @internal Adopt an accepted, connected, non-blocking fd. */
  _adopt(fd: number, unix: boolean): void {
    this.fd = fd;
    this.unix = unix;
    this.connected = true;
    // Reading starts at once, as in Node: data is held until someone consumes it.
    this._wantsRead = true;
    this.watcher = this.loop.watch(fd, EPOLLIN | EPOLLRDHUP | EPOLLET, onSocketEvents);
    this.watcher.data = this;
    this.watcher.onLoopClose = destroyOnLoopClose;
    this.loopState.setStream(this.watcher, this);
    this.interest = EPOLLIN | EPOLLRDHUP | EPOLLET;
    if (!this.refed) this.watcher.unref();
    this.applyTcpOptions();
  }

  /** @internal Start a non-blocking connect to `endpoint`. */
  _connect(endpoint: Endpoint): void {
    let fd = -1;
    try {
      fd = sys.socket(endpoint.domain, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
      const r =
        endpoint.domain === sys.AF_UNIX ? sys.connect(fd, endpoint.address) : sys.connect(fd, endpoint.address, endpoint.port);
      // A Unix listener with a full queue says EAGAIN; report it like Node does.
      if (r === EAGAIN) throw sys.makeSystemError(-EAGAIN, 'connect');
      // Even an immediate success is reported asynchronously, from the loop (as in Node).
      this.watcher = this.loop.watch(fd, EPOLLOUT, onSocketEvents);
    } catch (e) {
      if (fd >= 0) sys.close(fd);
      decorate(e, endpoint);
      process.nextTick(() => this.destroy(e as Error));
      return;
    }
    this.fd = fd;
    this.x.endpoint = endpoint;
    this.unix = endpoint.domain === sys.AF_UNIX;
    this.connecting = true;
    this.watcher.data = this;
    this.watcher.onLoopClose = destroyOnLoopClose;
    this.loopState.setStream(this.watcher, this);
    this.interest = EPOLLOUT;
    if (!this.refed) this.watcher.unref();
  }

  private finishConnect(events: number): void {
    const err = sys.getsockopt(this.fd, SOL_SOCKET, SO_ERROR);
    if (err !== 0 || (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLOUT))) {
      const e = sys.makeSystemError(err || sys.errno.ECONNREFUSED!, 'connect');
      const endpoint = this.ext?.endpoint;
      if (endpoint) decorate(e, endpoint);
      this.destroy(e);
      return;
    }
    this.connecting = false;
    this.connected = true;
    this.applyTcpOptions();
    // The socket's own state first, then the user's listeners: a listener that throws must not
    // leave the socket half set up (the loop reports the throw and goes on).
    if (this.queued > 0 && this.corks === 0) this.flush();
    else this.maybeShutdown();
    if (this.destroyed) return;
    this.updateReading();
    this.updateInterest();
    this.emit('connect');
    this.emit('ready');
  }

  private applyTcpOptions(): void {
    if (this.unix) return;
    if (this.noDelay) sys.setsockopt(this.fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (this.keepAlive) this.setKeepAlive(true, this.ext?.keepAliveDelay ?? 0);
  }


  // ══ Events from the loop ════════════════════════════════════════════════════════════════

  /** @internal The watcher's callback (the loop has already handed over any read: _onRead). */
  _onEvents(events: number): void {
    if (this.connecting) {
      this.finishConnect(events);
      return;
    }
    if (events & EPOLLOUT && this.queued > 0) this.flush();
    if (this.destroyed || this._wantsRead) return;
    if (events & EPOLLERR) {
      // Not reading, so no read() reports it: fetch the pending error ourselves.
      const err = sys.getsockopt(this.fd, SOL_SOCKET, SO_ERROR);
      if (err !== 0) this.destroy(sys.makeSystemError(err, 'read'));
    }
    // A lone EPOLLHUP while not reading is silenced by the EPOLLONESHOT interest (see
    // updateInterest): the paused data stays in the kernel until resume().
  }

  /** @internal This iteration's read, from the loop's batch: n bytes at `start` of the slab, 0 = EOF, −errno. */
  _onRead(n: number, slab: ArrayBuffer, start: number, slabBuf: Buffer): void {
    if (n > 0) {
      this.bytesRead += n;
      if (this.ext !== null) this.ext.lastActive = this.loop.now();
      if (this.flowing === true && this.held === null) {
        const onread = this._onread;
        if (onread !== null) onread.call(this, slabBuf, start, start + n);
        else this.deliver(slabChunk(slab, start, n));
      } else this.hold(slabChunk(slab, start, n));
    } else if (n === 0) {
      if (this.held === null && this.flowing !== false) this.onEof();
      else {
        this.heldEof = true;
        this.updateReading();
      }
    } else if (n !== EAGAIN && n !== ENOBUFS) {
      this.destroy(sys.makeSystemError(-n, 'read'));
    }
    // −EAGAIN: a spurious wake-up; −ENOBUFS: no room in this batch (see _readAgain).
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

  /** Keeps a chunk nobody consumes yet (not flowing); reading stops at READ_HWM. */
  private hold(chunk: Buffer): void {
    (this.held ??= []).push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes >= READ_HWM) this.updateReading();
  }

  private deliver(chunk: Buffer): void {
    if (this._onread !== null) {
      this._onread.call(this, chunk, 0, chunk.length);
      return;
    }
    // One listener (the usual case): call it straight from the table, as emit() would — unless
    // rejections are captured, which only emit() does (a rejected async listener → 'error').
    const listener = (this as unknown as { _events: { data?: unknown } })._events.data;
    if (typeof listener === 'function' && !this.captureRejections) listener.call(this, chunk);
    else this.emit('data', chunk);
  }

  /** Hands over what was held, in order, while the socket flows. */
  private releaseHeld(): void {
    const held = this.held;
    try {
      while (held !== null && held.length > 0 && this.flowing === true && !this.destroyed) {
        const chunk = held.shift()!;
        this.heldBytes -= chunk.length;
        this.deliver(chunk);
      }
    } catch (e) {
      // A listener threw: the error surfaces (uncaughtException, as from any nextTick), and the
      // rest of the held data, then reading, carry on next tick, as a Node stream's would.
      process.nextTick(() => this.releaseHeld());
      throw e;
    }
    if (held !== null && held.length === 0 && this.held === held) this.held = null;
    if (this.held === null && this.heldEof && this.flowing !== false && !this.destroyed) {
      this.heldEof = false;
      this.onEof();
      return;
    }
    this.updateReading();
  }

  private onEof(): void {
    this.readEnded = true;
    this._wantsRead = false;
    this.updateInterest();
    // As Node's own 'end' handling runs before the user's: end our side too (unless half-open
    // is allowed), or close if it already ended. Then tell the user.
    if (this.writeShut) this.destroy();
    else if (!this.allowHalfOpen) this.end();
    this.emit('end');
  }

  /** Recomputes the epoll interest from the state; one epoll_ctl only when it changed. */
  private updateInterest(): void {
    const watcher = this.watcher;
    if (watcher === null || this.destroyed) return;
    let want = this.connecting ? EPOLLOUT : 0;
    if (this._wantsRead) want |= EPOLLIN | EPOLLRDHUP;
    if (this.queued > 0 && this.corks === 0) want |= EPOLLOUT;
    // Interested in nothing: EPOLLHUP/EPOLLERR are reported whatever the mask, and one-shot
    // reports them once at most. Otherwise edge-triggered (see the top of this file); a MOD that
    // adds EPOLLIN or EPOLLOUT makes the kernel look at the socket, so readiness that came while
    // it was not asked for is reported then.
    if (want === 0) want = EPOLLONESHOT;
    else want |= EPOLLET;
    if (want !== this.interest) {
      this.interest = want;
      watcher.modify(want);
    }
  }

  // ══ Reading control ═════════════════════════════════════════════════════════════════════

  /** Whether the loop should read this socket: until EOF, unless enough is held unconsumed. */
  private updateReading(): void {
    const want = !this.readEnded && !this.destroyed && !this.heldEof && this.heldBytes < READ_HWM;
    if (want === this._wantsRead) return;
    this._wantsRead = want;
    if (!this.connecting) this.updateInterest();
  }

  /** Stop 'data' events. Up to 64 KiB more is read and held; then the kernel holds the rest. */
  pause(): this {
    this.flowing = false;
    return this;
  }

  /** Start or restart 'data' events (held data first). */
  resume(): this {
    if (this.flowing === true) return this;
    this.flowing = true;
    if (this.held !== null || this.heldEof) process.nextTick(() => this.releaseHeld());
    return this;
  }

  isPaused(): boolean {
    return this.flowing === false;
  }

  // ══ Writing ═════════════════════════════════════════════════════════════════════════════

  /**
   * Send `data` (a Buffer/Uint8Array, or a string in `encoding`). Returns false when the queue
   * is at or above the high-water mark: wait for `'drain'` before writing more. `callback`
   * fires once, after the bytes went to the kernel, or with an error if they never will.
   */
  write(data: Uint8Array | string, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    let buf: Uint8Array;
    if (typeof data === 'string') buf = Buffer.from(data, encoding);
    else if (data instanceof Uint8Array) buf = data;
    else throw invalidArgType('data', 'of type string or an instance of Buffer or Uint8Array', data);
    if (callback !== undefined && typeof callback !== 'function') {
      throw invalidArgType('callback', 'of type function', callback);
    }
    if (buf.length === 0 && this.queued === 0 && !this.destroyed && !this.writeEnded) {
      if (callback) process.nextTick(callback, null);
      return true;
    }
    if (this.writeEnded || this.destroyed) {
      const e = this.destroyed
        ? streamError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed')
        : streamError('ERR_STREAM_WRITE_AFTER_END', 'write after end');
      if (callback) process.nextTick(callback, e);
      if (!this.destroyed) process.nextTick(() => this.emit('error', e));
      return false;
    }
    // Inside an iteration: collected, sent with every other socket's writes in one call.
    // (Once a socket has writes in the batch, later ones follow them there, to keep the order.)
    // The batch is a copy, and bounded (StreamBatch.canTake): past the bound, a socket not in it
    // is sent at once, and one in it queues the rest behind it, in its own queue (issue #20).
    const streams = this.loopState.streams;
    const inBatch = this._batchBytes > 0;
    const batchable = inBatch
      ? this.queued === 0 && streams.canTake(buf.length)
      : this.queued === 0 && this.connected && this.corks === 0 && this.loopState.inTurn && buf.length <= BATCH_MAX && streams.canTake(buf.length);
    if (batchable || inBatch) {
      if (batchable) streams.addWrite(this, buf, callback);
      else this.enqueue(buf as Buffer, callback);
      if (this.queued + this._batchBytes < this.writableHighWaterMark) return true;
      this.needDrain = true;
      return false;
    }
    if (this.queued === 0 && this.connected && this.corks === 0) {
      let n: number;
      try {
        n = sys.send(this.fd, buf);
      } catch (e) {
        if (callback) process.nextTick(callback, e);
        this.destroy(e as Error);
        return false;
      }
      if (n === buf.length) {
        this.bytesWritten += n;
        if (this.ext !== null) this.ext.lastActive = this.loop.now();
        if (callback) process.nextTick(callback, null);
        return true;
      }
      if (n > 0) {
        this.bytesWritten += n;
        buf = buf.subarray(n);
      }
    }
    this.enqueue(buf as Buffer, callback);
    if (this.connected && this.corks === 0) this.updateInterest();
    if (this.queued < this.writableHighWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  private enqueue(buf: Buffer, callback: WriteCallback | undefined): void {
    const wq = (this.wq ??= { bufs: [], cbs: [], head: 0 });
    wq.bufs.push(buf);
    wq.cbs.push(callback);
    this.queued += buf.length;
  }

  /** Writes as much of the queue as the kernel takes: send() for one buffer, sendmsg() for many. */
  private flush(): void {
    // The queue holds writes made after those in this iteration's batch: they wait for it
    // (_onBatchDone looks again).
    if (this._batchBytes > 0) return;
    const wq = this.wq!;
    const queue = wq.bufs;
    const cbs = wq.cbs;
    while (wq.head < queue.length) {
      const count = Math.min(queue.length - wq.head, MAX_GATHER);
      let n: number;
      let asked = 0;
      try {
        if (count === 1) {
          asked = queue[wq.head]!.length;
          n = sys.send(this.fd, queue[wq.head]!);
        } else {
          for (let i = 0; i < count; i++) {
            const b = queue[wq.head + i]!;
            gather[i] = b;
            asked += b.length;
          }
          gather.length = count;
          n = sys.sendmsg(this.fd, gather);
          gather.length = 0;
        }
      } catch (e) {
        gather.length = 0;
        this.destroy(e as Error);
        return;
      }
      if (n === EAGAIN) break;
      this.bytesWritten += n;
      this.queued -= n;
      if (this.ext !== null) this.ext.lastActive = this.loop.now();
      // Retire what was fully sent; trim the first partly sent buffer.
      let left = n;
      while (left > 0) {
        const b = queue[wq.head]!;
        if (b.length <= left) {
          left -= b.length;
          const cb = cbs[wq.head];
          queue[wq.head] = undefined as unknown as Buffer;
          cbs[wq.head] = undefined;
          wq.head++;
          if (cb) process.nextTick(cb, null);
        } else {
          queue[wq.head] = b.subarray(left);
          left = 0;
        }
      }
      // Zero-length buffers at the head are done too.
      while (wq.head < queue.length && queue[wq.head]!.length === 0) {
        const cb = cbs[wq.head];
        wq.head++;
        if (cb) process.nextTick(cb, null);
      }
      if (n < asked) break; // the kernel's buffer is full: wait for EPOLLOUT
    }
    if (wq.head === queue.length) this.wq = null; // empty: an idle socket keeps no queue
    this.maybeShutdown();
    this.updateInterest();
    this.emitDrainIfLow();
  }

  /** 'drain' once the queue has fallen to the low-water mark after write() returned false. */
  private emitDrainIfLow(): void {
    if (this.needDrain && !this.destroyed && this.queued + this._batchBytes <= this.writableLowWaterMark) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  /** @internal All of this iteration's batched writes went out, and none had a callback. */
  _onBatchSent(sent: number): void {
    this.bytesWritten += sent;
  }

  /** @internal One of this iteration's batched writes, settled after the batch send. */
  _onBatchPiece(buf: Uint8Array, cb: WriteCallback | undefined): void {
    if (this.destroyed) {
      if (cb) process.nextTick(cb, this.ext?.batchError ?? streamError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed'));
      return;
    }
    let sent = this._batchSent;
    if (sent === EAGAIN) sent = this._batchSent = 0;
    if (sent < 0) {
      const error = (this.x.batchError = sys.makeSystemError(-sent, 'send'));
      if (cb) process.nextTick(cb, error);
      this.destroy(error);
      return;
    }
    if (sent >= buf.length) {
      this._batchSent = sent - buf.length;
      this.bytesWritten += buf.length;
      if (cb) process.nextTick(cb, null);
      return;
    }
    // The kernel took only part: the rest, and every later write, waits in our queue — ahead
    // of writes queued behind the batch while it was being collected.
    this._batchSent = 0;
    this.bytesWritten += sent;
    const wq = (this.wq ??= { bufs: [], cbs: [], head: 0 });
    const at = wq.head + this.requeued++;
    wq.bufs.splice(at, 0, (sent > 0 ? buf.subarray(sent) : buf) as Buffer);
    wq.cbs.splice(at, 0, cb);
    this.queued += buf.length - sent;
  }

  /** @internal All of this iteration's batched writes are settled. */
  _onBatchDone(): void {
    this.requeued = 0;
    if (this.destroyed) return;
    if (this.ext !== null) this.ext.lastActive = this.loop.now();
    this.maybeShutdown();
    this.updateInterest();
    this.emitDrainIfLow();
  }

  /** Bytes written but not yet taken by the kernel. */
  get writableLength(): number {
    return this.queued + this._batchBytes;
  }

  /** Whether write() would return true now. */
  get writableNeedDrain(): boolean {
    return this.needDrain;
  }

  /** Hold writes in the queue until uncork() (then one sendmsg carries them all). */
  cork(): void {
    this.corks++;
  }

  uncork(): void {
    if (this.corks === 0) return;
    this.corks--;
    if (this.corks === 0 && this.connected && !this.destroyed && this.queued > 0) this.flush();
  }

  /**
   * Half-close: flush what is queued, then shutdown(SHUT_WR) — the peer reads EOF. The socket
   * closes when the peer has ended too (or at once if it already had).
   */
  end(data?: Uint8Array | string | (() => void), encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (typeof data === 'function') {
      callback = data;
      data = undefined;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (data !== undefined && data !== null) this.write(data as Uint8Array | string, encoding as BufferEncoding);
    if (callback) this.once('finish', callback);
    if (this.writeEnded || this.destroyed) return this;
    this.writeEnded = true;
    this.maybeShutdown();
    return this;
  }

  /** After end(): shutdown(SHUT_WR) once nothing written is still waiting to go out. */
  private maybeShutdown(): void {
    if (this.writeEnded && !this.writeShut && this.connected && !this.destroyed && this.queued === 0 && this._batchBytes === 0) {
      this.shutdownWrite();
    }
  }

  private shutdownWrite(): void {
    this.writeShut = true;
    try {
      sys.shutdown(this.fd, sys.SHUT_WR);
    } catch (e) {
      // ENOTCONN: the peer reset the connection already; the read side will tell.
      if (!sys.isSystemError(e, 'ENOTCONN')) {
        this.destroy(e as Error);
        return;
      }
    }
    process.nextTick(() => this.emit('finish'));
    if (this.readEnded) this.destroy();
  }

  // ══ Closing ═════════════════════════════════════════════════════════════════════════════

  /**
   * Close now: EPOLL_CTL_DEL, close(fd). Queued writes fail (their callbacks get an error, after
   * every successful one); then `'error'` (if `error` is given) and `'close'`.
   */
  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.connecting = false;
    this._wantsRead = false;
    if (this.ext?.timeoutTimer) {
      this.ext.timeoutTimer.close();
      this.ext.timeoutTimer = null;
    }
    if (this.watcher !== null) {
      this.watcher.close();
      this.watcher = null;
    }
    if (this.fd >= 0) {
      sys.close(this.fd);
      this.fd = -1;
    }
    const wq = this.wq;
    if (wq !== null && wq.head < wq.bufs.length) {
      const failure = error ?? streamError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed');
      const cbs = wq.cbs;
      for (let i = wq.head; i < cbs.length; i++) {
        const cb = cbs[i];
        if (cb) process.nextTick(cb, failure);
      }
    }
    this.wq = null;
    this.queued = 0;
    this.held = null;
    // 'error' and 'close' come in the next iteration, after this one's promise jobs — as Node's
    // come from the handle's close callback — so code awaiting 'end' can still attach 'close'.
    if (error) this.x.closeError = error;
    if (this.loop.closed || this.loopState.closing) process.nextTick(emitClosing, this);
    else this.loopState.defer(emitClosing, this);
    this._server?._connectionClosed();
    this._server = null;
    return this;
  }

  /** Like Node's `resetAndDestroy`: close with RST (SO_LINGER {1, 0}) instead of FIN. */
  resetAndDestroy(): this {
    if (this.fd >= 0 && !this.destroyed) sys.setsockopt(this.fd, SOL_SOCKET, sys.SO_LINGER, sys.linger(true, 0));
    return this.destroy();
  }

  // ══ Options and addresses ═══════════════════════════════════════════════════════════════

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    if (this.connected && !this.destroyed && !this.unix) sys.setsockopt(this.fd, IPPROTO_TCP, TCP_NODELAY, noDelay ? 1 : 0);
    return this;
  }

  setKeepAlive(enable = false, initialDelayMs = 0): this {
    this.keepAlive = enable;
    if (initialDelayMs || this.ext) this.x.keepAliveDelay = initialDelayMs;
    if (!this.connected || this.destroyed || this.unix) return this;
    sys.setsockopt(this.fd, SOL_SOCKET, SO_KEEPALIVE, enable ? 1 : 0);
    if (enable && initialDelayMs > 0) {
      sys.setsockopt(this.fd, IPPROTO_TCP, TCP_KEEPIDLE, Math.max(1, Math.floor(initialDelayMs / 1000)));
    }
    return this;
  }

  /**
   * Emit `'timeout'` after `ms` of inactivity (no bytes read or written); 0 disables. As in Node,
   * the socket is not closed: the listener decides. Activity costs one field write, not a timer
   * re-arm: the one timer re-checks when it fires.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) throw outOfRange('ms', 'a finite number >= 0', ms);
    if (callback) this.once('timeout', callback);
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

  private checkTimeout(): void {
    const x = this.x;
    if (this.destroyed || x.timeoutMs === 0) return;
    const idle = this.loop.now() - x.lastActive;
    const timer = x.timeoutTimer!;
    if (idle >= x.timeoutMs) {
      x.lastActive = this.loop.now();
      timer.refresh();
      this.emit('timeout');
    } else {
      // Activity since: wait for the rest of the period.
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

  /** getsockname(): `{ address, port, family }`, or undefined when closed. */
  address(): sys.SocketAddress | undefined {
    if (this.fd < 0) return undefined;
    try {
      return sys.getsockname(this.fd);
    } catch {
      return undefined;
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
  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.destroyed || !this.connected) return 'closed';
    const r = !this.readEnded;
    const w = !this.writeEnded;
    return r && w ? 'open' : r ? 'readOnly' : w ? 'writeOnly' : 'closed';
  }

  get pending(): boolean {
    return !this.connected;
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

  /**
   * Read the socket as an async iterable of chunks; ends at EOF, throws on error. The socket is
   * paused while 16 chunks wait to be consumed. Breaking out of the loop destroys the
   * socket (as for Node streams).
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    const chunks: Buffer[] = [];
    let finished = false;
    let failure: unknown = null;
    let wake: (() => void) | null = null;
    const notify = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      if (chunks.length >= 16) this.pause();
      notify();
    };
    const onEnd = (): void => {
      finished = true;
      notify();
    };
    const onError = (e: unknown): void => {
      failure = e;
      finished = true;
      notify();
    };
    this.on('data', onData);
    this.on('end', onEnd);
    this.on('error', onError);
    this.on('close', onEnd);
    try {
      for (;;) {
        const chunk = chunks.shift();
        if (chunk !== undefined) {
          if (chunks.length < 4 && this.isPaused()) this.resume();
          yield chunk;
          continue;
        }
        if (failure !== null) throw failure;
        if (finished) return;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    } finally {
      this.off('data', onData);
      this.off('end', onEnd);
      this.off('error', onError);
      this.off('close', onEnd);
      if (!finished) this.destroy();
    }
  }
}

/** Adds `address`/`port` to a connect or listen error, as Node does. */
export function decorate(e: unknown, endpoint: Endpoint): void {
  if (e instanceof Error && sys.isSystemError(e)) {
    const d = e as Error & { address?: string; port?: number };
    d.address = endpoint.address;
    if (endpoint.port >= 0) d.port = endpoint.port;
  }
}

// The boolean properties, as getters/setters over the `flags` bits.
for (const [name, bit] of Object.entries(FLAGS)) {
  Object.defineProperty(Socket.prototype, name, {
    get(this: Socket): boolean {
      return (this.flags & bit) !== 0;
    },
    set(this: Socket, on: boolean): void {
      this.flags = on ? this.flags | bit : this.flags & ~bit;
    },
    configurable: true,
  });
}
