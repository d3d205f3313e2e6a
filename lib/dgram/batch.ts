/**
 * Batched datagram I/O for one loop: reads with recvmmsg (many datagrams per crossing into
 * native code) and sends with sendmmsg (all the sends of every UDP socket of an iteration in one
 * crossing, at the end of its callbacks). docs/udp.md tells the whole story.
 *
 * Reads (`receive`): a readable socket's pending datagrams land in a shared read slab, packed
 * one after the other by sys.recvmmsg_many, and each becomes a Buffer over its own bytes there —
 * a view no later read overwrites. No ArrayBuffer and no copy per message.
 *
 * Sends (`add`): a send copies its bytes into a reused send slab and writes its descriptor
 * (offset, length, destination words) into a reused Int32Array; the first send of an iteration
 * asks the loop for an immediate, which runs after the iteration's I/O callbacks, and there every
 * queued datagram goes out in one sys.sendmmsg_many. A send made outside an iteration goes out in
 * the next one. What a socket's kernel buffer refuses (EAGAIN) stays queued, in order, until the
 * socket is writable again.
 */
import type { Loop } from '../reactor/index';
import { slabChunk } from '../reactor/stream-batch';
import * as sys from '../sys/index';
import { senderText } from './address';
import { exceptionWithHostPort } from './errors';

// Bound once: `sys` has too many exports to be a fast object.
const { recvmmsg_many, sendmmsg_many, AF_INET, MMSG_WORDS: W } = sys;
const EAGAIN = sys.EAGAIN;
const ECANCELED = -sys.errno.ECANCELED!;

/** Room per datagram read: the largest UDP payload (65,507 B over IPv4, 65,527 over IPv6) fits. */
const SLOT = 65_536;
/** Datagrams taken from one socket per read (libuv takes 20 per recvmmsg; more crossings saved). */
const READ_MAX = 64;
/**
 * The read slab. Its pages become resident only where datagrams land (slots are laid end to end
 * from the write position, then packed down), so most of it is address space, not memory.
 */
const SLAB_SIZE = 8 * 1024 * 1024;
/** Below this much room (16 slots), reads go to a fresh slab (the old one lives on in its messages). */
const MIN_ROOM = 16 * SLOT;
/** A batch that reaches this many datagrams is sent at once (what sendmmsg takes in one call). */
const SEND_MAX = sys.UIO_MAXIOV;

/** Node's `rinfo`. */
export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export type SendCallback = (error: Error | null, bytes?: number) => void;

/** What a socket gives the batch (dgram's Socket). */
export interface DgramOwner {
  /** The socket's fd, −1 once it has none. */
  readonly _fd: number;
  /** Set once close() began: no more messages are delivered to it. */
  readonly _closed: boolean;
  /** @internal Datagrams and bytes queued here, not yet settled (getSendQueueCount/Size). */
  _queuedCount: number;
  _queuedBytes: number;
  /** @internal Flush bookkeeping: the flush that last indexed it, and its index in that flush's fds. */
  _flushMark: number;
  _fdIndex: number;
  _onMessage(msg: Buffer, rinfo: RemoteInfo): void;
  /** A read failed with −errno (not EAGAIN). */
  _onRecvError(errno: number): void;
  /** Its kernel buffer is full: it should watch for EPOLLOUT and call `scheduleFlush`. */
  _onSendBlocked(): void;
  /** All of its queued datagrams are settled (it may be waiting for that to close its fd). */
  _onSendQueueEmpty(): void;
}

export class DgramBatch {
  // ── reads ──
  private slab = new ArrayBuffer(SLAB_SIZE);
  private pos = 0;
  private readonly rfds = new Int32Array(1);
  private readonly results = new Int32Array(1);
  private readonly rmsgs = new Int32Array(READ_MAX * W);
  private readonly rbytes = new Uint8Array(this.rmsgs.buffer);
  private readonly rfdsBuf = this.rfds.buffer as ArrayBuffer;
  private readonly resultsBuf = this.results.buffer as ArrayBuffer;
  private readonly rmsgsBuf = this.rmsgs.buffer as ArrayBuffer;

  // ── sends ── (counted arrays: entries [0, count))
  private out = Buffer.allocUnsafeSlow(256 * 1024);
  private outPos = 0;
  private smsgs = new Int32Array(SEND_MAX * W);
  private smsgsBuf = this.smsgs.buffer as ArrayBuffer;
  private sfds = new Int32Array(SEND_MAX);
  private sfdsBuf = this.sfds.buffer as ArrayBuffer;
  private count = 0;
  /** Send at once when count reaches this: SEND_MAX, more while a blocked socket holds datagrams. */
  private sendAt = SEND_MAX;
  private readonly owners: (DgramOwner | undefined)[] = [];
  private readonly callbacks: (SendCallback | undefined)[] = [];
  private readonly hosts: unknown[] = [];
  private readonly ports: unknown[] = [];
  private mark = 0;
  private scheduled = false;
  /** Settled sends whose callbacks are due: run together after the flush. */
  private doneCallbacks: SendCallback[] = [];
  private doneErrors: (Error | null)[] = [];
  private doneBytes: number[] = [];
  private spareCallbacks: SendCallback[] = [];
  private spareErrors: (Error | null)[] = [];
  private spareBytes: number[] = [];
  private readonly emptied: DgramOwner[] = [];
  private readonly onImmediate = (): void => this.flush();

  constructor(private readonly loop: Loop) {}

  /** Reads what `owner` has pending (up to READ_MAX datagrams) and hands each to it. */
  receive(owner: DgramOwner): void {
    if (SLAB_SIZE - this.pos < MIN_ROOM) {
      this.slab = new ArrayBuffer(SLAB_SIZE);
      this.pos = 0;
    }
    this.rfds[0] = owner._fd;
    this.results[0] = READ_MAX;
    const slab = this.slab;
    const n = recvmmsg_many(this.rfdsBuf, 1, slab, this.pos, SLOT, this.rmsgsBuf, this.resultsBuf);
    if (n === 0) {
      const r = this.results[0]!;
      if (r < 0 && r !== EAGAIN) owner._onRecvError(r);
      return;
    }
    const m = this.rmsgs;
    const bytes = this.rbytes;
    this.pos = m[(n - 1) * W]! + m[(n - 1) * W + 1]!;
    // Every message is handed over even if a listener throws; the first error is rethrown after.
    let threw = false;
    let error: unknown;
    for (let i = 0; i < n && !owner._closed; i++) {
      const b = i * W;
      const size = m[b + 1]!;
      const rinfo: RemoteInfo = {
        address: senderText(m, bytes, b + 4),
        family: m[b + 4] === AF_INET ? 'IPv4' : 'IPv6',
        port: m[b + 5]!,
        size,
      };
      try {
        owner._onMessage(slabChunk(slab, m[b]!, size), rinfo);
      } catch (e) {
        if (!threw) error = e;
        threw = true;
      }
    }
    if (threw) throw error;
  }

  /**
   * Queues one datagram: `data` (one view or several, sent as one datagram) from `owner` to
   * `dest` (words 4–11 of a descriptor; null: the connected peer) and `port`. `host` and
   * `portArg` are what the caller gave, for the error message of a failed send.
   */
  add(
    owner: DgramOwner,
    data: Uint8Array | Uint8Array[],
    dest: Int32Array | null,
    port: number,
    cb: SendCallback | undefined,
    host: unknown,
    portArg: unknown,
  ): void {
    if (this.count >= this.sendAt) {
      this.send();
      // What a blocked socket holds stays; the queue then grows (as libuv's does) by doubling,
      // not one send per add.
      this.sendAt = Math.max(SEND_MAX, 2 * this.count);
      while (this.smsgs.length < this.sendAt * W) this.growDescriptors();
    }
    let len = 0;
    if (Array.isArray(data)) for (let i = 0; i < data.length; i++) len += data[i]!.byteLength;
    else len = data.byteLength;
    if (this.outPos + len > this.out.length) this.makeRoom(len);
    const at = this.outPos;
    if (Array.isArray(data)) {
      let p = at;
      for (let i = 0; i < data.length; i++) {
        this.out.set(data[i]!, p);
        p += data[i]!.byteLength;
      }
    } else this.out.set(data, at);
    this.outPos = at + len;
    const j = this.count++;
    const m = this.smsgs;
    const b = j * W;
    m[b] = at;
    m[b + 1] = len;
    m[b + 2] = 0;
    if (dest === null) m[b + 4] = 0;
    else {
      // Eight stores: cheaper than a TypedArray.prototype.set call for so few words.
      m[b + 4] = dest[0]!;
      m[b + 5] = port;
      m[b + 6] = dest[2]!;
      m[b + 7] = dest[3]!;
      m[b + 8] = dest[4]!;
      m[b + 9] = dest[5]!;
      m[b + 10] = dest[6]!;
      m[b + 11] = dest[7]!;
    }
    this.owners[j] = owner;
    this.callbacks[j] = cb;
    this.hosts[j] = host;
    this.ports[j] = portArg;
    owner._queuedCount++;
    owner._queuedBytes += len;
    if (!this.scheduled) this.scheduleFlush();
  }

  /** Make sure a flush runs soon: after this iteration's I/O callbacks, or in the next iteration. */
  scheduleFlush(): void {
    if (this.scheduled || this.loop.closed) return;
    this.scheduled = true;
    this.loop.setImmediate(this.onImmediate);
  }

  /** Sends every queued datagram now and runs the callbacks of the settled ones. */
  flush(): void {
    this.scheduled = false;
    this.send();
    this.complete();
  }

  private growDescriptors(): void {
    const m = new Int32Array(2 * this.smsgs.length);
    m.set(this.smsgs);
    this.smsgs = m;
    this.smsgsBuf = m.buffer as ArrayBuffer;
    this.sfds = new Int32Array(2 * this.sfds.length);
    this.sfdsBuf = this.sfds.buffer as ArrayBuffer;
  }

  private makeRoom(len: number): void {
    if (this.count > 0) this.send();
    if (this.outPos + len <= this.out.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.outPos + len, 2 * this.out.length));
    this.out.copy(bigger, 0, 0, this.outPos);
    this.out = bigger;
  }

  /** One sendmmsg_many for every queued datagram; settles each, keeps what met EAGAIN. */
  private send(): void {
    const n = this.count;
    if (n === 0) return;
    const m = this.smsgs;
    const mark = ++this.mark;
    let nfds = 0;
    for (let j = 0; j < n; j++) {
      const o = this.owners[j]!;
      if (o._flushMark !== mark) {
        o._flushMark = mark;
        o._fdIndex = nfds;
        // An owner that lost its fd (its loop was force-closed) sends nowhere: its datagrams
        // go to a number no fd has (EBADF), and are reported cancelled below.
        this.sfds[nfds++] = o._fd >= 0 ? o._fd : 0x7fffffff;
      }
      m[j * W + 3] = o._fdIndex;
    }
    sendmmsg_many(this.sfdsBuf, nfds, this.out, this.smsgsBuf, n);
    // Settle in order; what is kept moves down to [0, kept), bytes included.
    let kept = 0;
    let keptPos = 0;
    for (let j = 0; j < n; j++) {
      const o = this.owners[j]!;
      const b = j * W;
      const r = m[b + 2]!;
      const len = m[b + 1]!;
      if (r === EAGAIN && o._fd >= 0 && !o._closed) {
        if (j !== kept) {
          this.out.copyWithin(keptPos, m[b]!, m[b]! + len);
          m.copyWithin(kept * W, b, b + W);
          this.owners[kept] = o;
          this.callbacks[kept] = this.callbacks[j];
          this.hosts[kept] = this.hosts[j];
          this.ports[kept] = this.ports[j];
        }
        m[kept * W] = keptPos;
        keptPos += len;
        kept++;
        o._onSendBlocked();
        continue;
      }
      o._queuedCount--;
      o._queuedBytes -= len;
      const cb = this.callbacks[j];
      if (cb !== undefined) {
        // Node: a failed send reaches its callback, and only it ('error' is not emitted). What
        // could not go before its socket closed is cancelled, as libuv cancels on close.
        const errno = o._fd < 0 || r === EAGAIN ? ECANCELED : r;
        this.doneCallbacks.push(cb);
        this.doneErrors.push(r >= 0 ? null : exceptionWithHostPort(errno, 'send', this.hosts[j], this.ports[j]));
        this.doneBytes.push(r);
      }
      if (o._queuedCount === 0) this.emptied.push(o);
    }
    for (let j = kept; j < n; j++) {
      this.owners[j] = undefined;
      this.callbacks[j] = undefined;
      this.hosts[j] = undefined;
      this.ports[j] = undefined;
    }
    this.count = kept;
    this.outPos = keptPos;
    if (kept < SEND_MAX) this.sendAt = SEND_MAX;
    const emptied = this.emptied;
    for (let i = 0; i < emptied.length; i++) if (emptied[i]!._queuedCount === 0) emptied[i]!._onSendQueueEmpty();
    emptied.length = 0;
    if (this.doneCallbacks.length > 0 && !this.scheduled) this.scheduleFlush();
  }

  /** Runs the callbacks of settled sends; all run even if one throws (the first error is rethrown). */
  private complete(): void {
    const cbs = this.doneCallbacks;
    if (cbs.length === 0) return;
    const errors = this.doneErrors;
    const bytes = this.doneBytes;
    // Swapped, not emptied: a callback's own send may settle (and queue a callback) meanwhile.
    this.doneCallbacks = this.spareCallbacks;
    this.doneErrors = this.spareErrors;
    this.doneBytes = this.spareBytes;
    let threw = false;
    let error: unknown;
    for (let i = 0; i < cbs.length; i++) {
      try {
        const e = errors[i]!;
        if (e === null) cbs[i]!(null, bytes[i]!);
        else cbs[i]!(e);
      } catch (e) {
        if (!threw) error = e;
        threw = true;
      }
    }
    cbs.length = errors.length = bytes.length = 0;
    this.spareCallbacks = cbs;
    this.spareErrors = errors;
    this.spareBytes = bytes;
    if (threw) throw error;
  }
}

const batches = new WeakMap<Loop, DgramBatch>();

/** The batch of `loop` (one per loop, made when its first UDP socket needs it). */
export function batchOf(loop: Loop): DgramBatch {
  let b = batches.get(loop);
  if (b === undefined) {
    b = new DgramBatch(loop);
    batches.set(loop, b);
  }
  return b;
}
