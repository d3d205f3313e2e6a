/**
 * A socket's write side: `_write`/`_writev` (the stream hands over one write, or everything it
 * buffered, at a time). Inside an iteration a write joins the loop's batch (one `send_many` for
 * every socket; the loop settles each piece through `_onBatchPiece`/`_onBatchDone`); outside,
 * it is sent at once. What the kernel does not take waits in the socket's queue
 * (write-queue.ts) for EPOLLOUT. The stream's callback runs once the kernel has it all — or at
 * once, when the iteration's batch took the write whole (see dispatch).
 * `_final` (after `end()` and every write) is `shutdown(SHUT_WR)`.
 */
import * as sys from '../sys/index';
import { codedError, errnoError, fromSys } from './errors';
import type { WriteCallback } from './socket-core';
import { SocketReader } from './socket-read';
import { WriteQueue } from './write-queue';

const { EAGAIN } = sys;
/** Writes larger than this are not copied into the iteration's batch. */
const BATCH_MAX = 64 * 1024;

export class SocketWriter extends SocketReader {
  /** @internal Bytes handed to the kernel or to the reactor's queues (Node's _bytesDispatched). */
  _bytesDispatched = 0;
  /** The write in flight: its callback runs when the kernel has all of it. */
  protected writeCb: WriteCallback | null = null;
  /** Remainders of this iteration's batch put back at the head of the queue so far. */
  private requeued = 0;

  /**
   * Node's write(), after settling the write in flight when the iteration's batch holds it whole:
   * the batch took it, as a kernel with room takes a write (Node completes a write at once when
   * `uv_try_write` took it all), so `write()` goes on saying true while the bytes go out —
   * up to BATCH_MAX per socket per iteration; past that a write completes once sent, and the
   * high-water mark holds. Done here, when a second write comes, rather than when the first is
   * batched: a socket's one write per iteration (the common case) then completes after the send
   * without a nextTick of the stream's (what a write completed inside `_write` costs).
   */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (this.heldByBatch()) {
      const done = this.writeCb!;
      this.writeCb = null;
      // As if inside `_write`: the stream defers the user's callback to a nextTick, as it does
      // for a write that completes at once (it must not run before this write is handed over).
      const state = (this as unknown as { _writableState: { sync: boolean } })._writableState;
      state.sync = true;
      try {
        done(null);
      } finally {
        state.sync = false;
      }
    }
    return super.write(chunk, encoding as BufferEncoding, cb);
  }

  /** Whether the write in flight is in the iteration's batch, whole, within the socket's share. */
  private heldByBatch(): boolean {
    return this.writeCb !== null && this._batchBytes > 0 && this._batchBytes <= BATCH_MAX && this.wq === null;
  }

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
      // As Node's: held until 'connect' (or failed with the connect's error), and sent by a
      // 'connect' listener of its own — so the listeners added before the write run first.
      const x = this.x;
      x.pendingWrite = { bufs, cb };
      for (const b of bufs) x.bytesPending += b.length;
      this.once('connect', sendPendingWrite);
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
  protected dispatch(bufs: Uint8Array[], cb: WriteCallback): void {
    let total = 0;
    for (let i = 0; i < bufs.length; i++) total += bufs[i]!.length;
    this._bytesDispatched += total;
    const streams = this.loopState.streams;
    if (this.loopState.inTurn && this.wq === null && total <= BATCH_MAX && streams.canTake(total)) {
      for (let i = 0; i < bufs.length; i++) streams.addWrite(this, bufs[i]!, undefined);
      this.writeCb = cb; // completes after the batch's send — or at the next write (see write())
      return;
    }
    this.writeCb = cb;
    const wq = (this.wq ??= new WriteQueue());
    for (let i = 0; i < bufs.length; i++) wq.push(bufs[i]!);
    this.flush();
  }

  /** @internal The write held during the connect, once connected (see writeGeneric). */
  _sendPendingWrite(): void {
    const x = this.ext;
    const pending = x?.pendingWrite;
    if (!pending || this.destroyed) return;
    x!.pendingWrite = null;
    x!.bytesPending = 0;
    this.dispatch(pending.bufs, pending.cb);
    // Taken whole: complete it now, as Node's write from its 'connect' listener completes when
    // the kernel takes it (the stream is not inside `_write` now: the callback runs at once).
    if (this.heldByBatch()) this.completeWrite(null);
  }

  /** Writes as much of the queue as the kernel takes; the write's callback when all is out. */
  protected flush(): void {
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
      if (this.destroyed) return;
      this.finishIfDrained();
    }
    this.updateInterest();
  }

  /**
   * The write in flight is settled: its callback, if it still waits. A write completed at once
   * (see dispatch) has none, and its failure is the socket's: destroyed with the error, as
   * Node's is when a write fails after the stream moved on.
   */
  private completeWrite(error: Error | null): void {
    const cb = this.writeCb;
    this.writeCb = null;
    if (cb !== null) cb(error);
    else if (error !== null) this.destroy(error);
  }

  /** An end() that waited for the batch and the queue to reach the kernel goes on now. */
  private finishIfDrained(): void {
    const ext = this.ext;
    if (ext === null || ext.finalCb === null || this._batchBytes > 0 || this.wq !== null) return;
    const cb = ext.finalCb;
    ext.finalCb = null;
    this._final(cb);
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
    if (wq === null) {
      this.completeWrite(null);
      if (!this.destroyed) this.finishIfDrained();
    } else this.updateInterest();
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
    // Writes completed at once may still be in the batch or the queue: FIN goes after them.
    if (this._batchBytes > 0 || this.wq !== null) {
      this.x.finalCb = cb;
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
    // Read on the prototype (no socket): undefined, as Node's.
    if (this._bytesDispatched === undefined) return undefined as unknown as number;
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
}

function sendPendingWrite(this: SocketWriter): void {
  this._sendPendingWrite();
}

/** Node's writeAfterFIN: once the peer has ended a socket that is not half-open. */
function writeAfterFIN(this: SocketWriter, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) return SocketWriter.prototype.write.call(this, chunk, encoding as BufferEncoding, cb as WriteCallback);
  if (typeof encoding === 'function') cb = encoding;
  const er = codedError('EPIPE', 'This socket has been ended by the other party');
  if (typeof cb === 'function') process.nextTick(cb as WriteCallback, er);
  this.destroy(er);
  return false;
}

/** Node's onReadableStreamEnd: a socket that is not half-open fails writes after the peer's FIN. */
export function onReadableStreamEnd(this: SocketWriter): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as SocketWriter['write'];
}
