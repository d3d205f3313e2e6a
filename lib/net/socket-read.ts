/**
 * A socket's read side. Reading is done by the loop (lib/reactor/stream-batch.ts): each
 * iteration, every socket that is readable and wants data is read with one `read_many` call,
 * into a shared slab; `_onRead` gets this socket's share. A chunk is a view of the slab nothing
 * writes again. `_read()` (the stream asking for data) starts reading; `push()` returning false
 * (the readable buffer is at its high-water mark) stops it — Node's readStart/readStop. A socket
 * that flows with nothing buffered skips the buffer: the chunk goes straight to `'data'` (what
 * `push()` itself does then), or, with `onread` set, the slab range goes to the handler with no
 * chunk made at all. Sockets are registered edge-triggered; see `_readAgain`.
 */
import { slabChunk } from '../reactor/stream-batch';
import * as sys from '../sys/index';
import { errnoError } from './errors';
import { SocketCore } from './socket-core';

const { EAGAIN } = sys;
const ENOBUFS = -sys.errno.ENOBUFS!;

/** The zero-copy read handler as the read side calls it (the API types `this` as the Socket). */
export type RawReadHandler = (buf: Buffer, start: number, end: number) => void;

/** Node's `onread` option, as the read side uses it. */
export interface NodeOnreadOption {
  buffer: Uint8Array | (() => Uint8Array);
  callback: (bytesWritten: number, buffer: Uint8Array) => unknown;
}

/** What the read path looks at in a ReadableState (getters in Node 20). */
interface ReadableStateView {
  flowing: boolean | null;
  length: number;
  decoder: unknown;
  dataEmitted: boolean;
}

export class SocketReader extends SocketCore {
  /** Bytes received so far. */
  bytesRead = 0;
  /** @internal The `onread` handler, or null: 'data' events. */
  _onread: RawReadHandler | null = null;
  /** The stream asked for data before the connect finished. */
  protected readOnConnect = false;
  /** The peer's FIN was read. */
  protected readEnded = false;
  /** @internal Node's `onread` option: reads are copied into its buffer, no 'data'. */
  _nodeOnread: NodeOnreadOption | null = null;
  /** Node's `onread`: the buffer the next read goes to; bytes read but not yet taken (its callback said stop). */
  private onreadBuf: Uint8Array | null = null;
  private onreadRest: Buffer | null = null;
  private readonly captureRejections: boolean = (this as unknown as Record<symbol, boolean>)[Symbol.for('nodejs.rejection')] !== undefined;

  /** @internal This iteration's read, from the loop's batch: n bytes at `start` of the slab, 0 = EOF, −errno. */
  _onRead(n: number, slab: ArrayBuffer, start: number, slabBuf: Buffer): void {
    if (n > 0) {
      this.bytesRead += n;
      if (this.ext !== null) this.ext.lastActive = this.loop.now();
      if (this._nodeOnread !== null) {
        this.copyToOnread(slabBuf.subarray(start, start + n));
        return;
      }
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

  /** Node's `onread`: the bytes copied into the caller's buffer(s), a callback each fill. */
  private copyToOnread(bytes: Buffer): void {
    const { buffer, callback } = this._nodeOnread!;
    let at = 0;
    while (at < bytes.length) {
      // As Node's: a buffer function is asked once before the first read and after each one.
      const buf = (this.onreadBuf ??= typeof buffer === 'function' ? buffer() : buffer);
      const m = Math.min(buf.length, bytes.length - at);
      buf.set(bytes.subarray(at, at + m));
      at += m;
      const more = callback.call(this, m, buf) !== false;
      if (typeof buffer === 'function') this.onreadBuf = buffer();
      if (!more || !this._wantsRead || this.destroyed) {
        this.stopReading();
        this.onreadRest = at < bytes.length ? bytes.subarray(at) : null;
        return;
      }
    }
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
    if (this.watcher !== null && !this.destroyed && this.interest & sys.EPOLLIN) this.watcher.modify(this.interest);
  }

  private onEof(): void {
    this.readEnded = true;
    this._wantsRead = false;
    this.updateInterest();
    this.push(null);
    // Get 'end' out even when nobody reads (as Node's onStreamRead does).
    this.read(0);
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
    if (this.onreadRest !== null) {
      const rest = this.onreadRest;
      this.onreadRest = null;
      this.copyToOnread(rest);
      if (!this._wantsRead) return;
    }
    this.updateInterest();
  }

  /** With Node's `onread` (nothing is pushed, the stream never asks again), pause and resume stop and start reading, as Node's do. */
  override pause(): this {
    if (this._nodeOnread !== null && !this.connecting) this.stopReading();
    return super.pause();
  }

  override resume(): this {
    if (this._nodeOnread !== null && !this.connecting && this.connected) this._read();
    return super.resume();
  }

  private stopReading(): void {
    if (!this._wantsRead) return;
    this._wantsRead = false;
    this.updateInterest();
  }
}
