/**
 * A socket's write side: `_write`/`_writev` (the stream hands over one write, or everything it
 * buffered, at a time). Inside an iteration a write joins the loop's batch (one `send_many` for
 * every socket; the loop settles each piece through `_onBatchPiece`/`_onBatchDone`); outside,
 * it is sent at once. What the kernel does not take waits in the socket's queue
 * (write-queue.ts) for EPOLLOUT. The stream's callback runs once the kernel has it all.
 * `_final` (after `end()` and every write) is `shutdown(SHUT_WR)`.
 */
import { Duplex } from 'node:stream';
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
  protected dispatch(bufs: Uint8Array[], cb: WriteCallback): void {
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

/** Node's writeAfterFIN: once the peer has ended a socket that is not half-open. */
function writeAfterFIN(this: SocketWriter, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) return Duplex.prototype.write.call(this, chunk, encoding as BufferEncoding, cb as WriteCallback);
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
