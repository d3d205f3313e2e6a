/**
 * Batched stream I/O: every socket that an iteration finds readable is read with ONE native call,
 * and every small write made during the iteration is sent with ONE more — libuv's
 * `uv_read_start` model (the loop reads for you), with the crossings of the JavaScript/native
 * boundary paid per iteration instead of per socket. (A batch of more than 64 events is served
 * in slices of 64, each with its own read and send: see Loop.dispatch.)
 *
 * Reads are packed (`sys.read_many`): each socket's bytes land in the shared read slab right
 * after the previous socket's, so the slab fills without gaps, and each chunk handed out is a
 * view no later read will overwrite. A socket reads at most its share of the room left
 * (between 4 KiB and 64 KiB); one whose read got all it asked for may have more, and is served
 * next iteration (its owner re-arms an edge-triggered registration: `_readAgain`), which also
 * keeps a flooding peer from starving the others.
 *
 * Writes (`sys.send_many`): a write made inside an iteration is collected with its socket; when
 * the iteration's callbacks are done, each socket's writes are copied, in order, into one region
 * of a reused out buffer, and all regions go out in one call. What a socket's kernel buffer did
 * not take goes back to that socket's own queue (flushed on EPOLLOUT).
 */
import * as sys from '../sys/index';

// Bound once: `sys` has too many exports to be a fast object (a dictionary lookup per call).
const { read_many, send_many } = sys;

/** What a stream (net.Socket) gives the batch. */
export interface StreamOwner {
  fd: number;
  /** @internal Whether it wants its readable data read by the loop now. */
  _wantsRead: boolean;
  /** @internal This iteration's read: index into the batch, −1 when none. */
  _readSlot: number;
  /** @internal Bytes collected by write() in this iteration, not yet sent. */
  _batchBytes: number;
  /** @internal Where its writes go in the out buffer during a flush. */
  _batchCursor: number;
  /** @internal During a flush: bytes of the batch still to account (or −errno on failure; SETTLED when done). */
  _batchSent: number;
  /** @internal Whether any of this iteration's writes came with a callback. */
  _batchCallbacks: boolean;
  /** @internal The whole batch went out (`sent` bytes) and no write had a callback. */
  _onBatchSent(sent: number): void;
  /**
   * @internal A read result: n bytes at `start` of the read slab — `slab`, its ArrayBuffer
   * (slabChunk() makes the chunk), and `slabBuf`, the whole of it as a Buffer — 0 = EOF, or
   * −errno. Both, because a typed array's `.buffer` is a call into C++ (~30 ns per read).
   */
  _onRead(n: number, slab: ArrayBuffer, start: number, slabBuf: Buffer): void;
  /** @internal Its read got all it asked for (or no room): it may have more, unannounced. */
  _readAgain(): void;
  /**
   * @internal One of its writes of this iteration, in order, after the flush: fully sent
   * (its callback succeeds), partly sent (the rest is queued), or failed.
   */
  _onBatchPiece(buf: Uint8Array, cb: ((e?: Error | null) => void) | undefined): void;
  /** @internal All of its pieces have been accounted. */
  _onBatchDone(): void;
}

const SLAB_SIZE = 256 * 1024;
/** The most bytes one iteration's write batch copies (see canTake). */
const BATCH_LIMIT = 1024 * 1024;
/** Below this much room, reads go to a fresh slab (the old one lives on in its chunks). */
const MIN_ROOM = 64 * 1024;
const MIN_SHARE = 4 * 1024;
/** The longest a slab takes reads, in ms (see readAll). */
const SLAB_MAX_AGE_MS = 20;
const MAX_SHARE = 64 * 1024;

type WriteCallback = ((e?: Error | null) => void) | undefined;

/**
 * One iteration's writes: (owner, buffer, callback) triples in order, and the owners in order of
 * their first write. Counted, never truncated: resetting an array's length would give its
 * storage back, and the next iteration would grow it again.
 */
class WriteSet {
  owners: (StreamOwner | null)[] = [];
  bufs: Uint8Array[] = [];
  cbs: WriteCallback[] = [];
  count = 0;
  writers: (StreamOwner | null)[] = [];
  writerCount = 0;

  add(owner: StreamOwner, buf: Uint8Array, cb: WriteCallback): void {
    if (owner._batchBytes === 0) this.writers[this.writerCount++] = owner;
    owner._batchBytes += buf.length;
    if (cb !== undefined) owner._batchCallbacks = true;
    const k = this.count++;
    this.owners[k] = owner;
    this.bufs[k] = buf;
    this.cbs[k] = cb;
  }

  /** Drops the references (buffers, callbacks) so nothing outlives its iteration. */
  clear(): void {
    for (let i = 0; i < this.count; i++) {
      this.owners[i] = NO_OWNER;
      this.bufs[i] = EMPTY;
      this.cbs[i] = undefined;
    }
    for (let i = 0; i < this.writerCount; i++) this.writers[i] = NO_OWNER;
    this.count = 0;
    this.writerCount = 0;
  }
}

const EMPTY = new Uint8Array(0);
const ENOBUFS = -sys.errno.ENOBUFS!;
/** Event bits that say a read after the bytes will find an EOF or an error. */
const CLOSING = sys.EPOLLRDHUP | sys.EPOLLHUP | sys.EPOLLERR;
/** _batchSent of a writer whose whole batch is settled already (no errno is this large). */
const SETTLED = -0x7fffffff;
/** An emptied slot: the owner is let go (for the GC) until the slot is reused. */
const NO_OWNER = null;

/**
 * A chunk handed to 'data': a Buffer over a region of the read slab (an ArrayBuffer), built as
 * Node's own FastBuffer is — cheaper than `Buffer.from(arrayBuffer, …)`, which checks its
 * arguments first.
 */
class SlabChunk extends Uint8Array {}
Object.setPrototypeOf(SlabChunk.prototype, Buffer.prototype);
Object.defineProperty(SlabChunk.prototype, 'constructor', { value: Buffer, writable: true, configurable: true });

/** The `n` bytes at `start` of a read slab handed to _onRead, as a Buffer of their own. */
export function slabChunk(slab: ArrayBuffer, start: number, n: number): Buffer {
  return new SlabChunk(slab, start, n) as Buffer;
}

/** A Buffer over the whole of a slab (one per slab). */
function slabView(slab: ArrayBuffer): Buffer {
  return new SlabChunk(slab, 0, SLAB_SIZE) as Buffer;
}

/**
 * A read slab: SLAB_SIZE bytes of an ArrayBuffer of their own, not zero-filled (the Buffer of
 * `allocUnsafeSlow` never comes from Node's pool, so it is the whole of its ArrayBuffer, and
 * slab offsets are ArrayBuffer offsets). Only the pages reads touch become resident.
 */
function newSlab(): ArrayBuffer {
  return Buffer.allocUnsafeSlow(SLAB_SIZE).buffer as ArrayBuffer;
}

export class StreamBatch {
  private slab = newSlab();
  /** The slab as a Buffer: what _onRead gets, with the offset of each read. */
  private slabBuf = slabView(this.slab);
  private slabUsed = 0;
  private slabBorn = 0;
  private readFds: Int32Array<ArrayBuffer> = new Int32Array(64);
  private readRanges: Int32Array<ArrayBuffer> = new Int32Array(128);
  // What the natives are given: the arrays' ArrayBuffers, which Node-API looks up in ~4 ns
  // where a typed array costs ~20 (its element type is found one test at a time). Kept in
  // fields: the `.buffer` getter costs about as much again. Replaced with their arrays.
  private readFdsAB = this.readFds.buffer;
  private readRangesAB = this.readRanges.buffer;
  private readers: (StreamOwner | null)[] = [];
  private readCount = 0;
  /** What each read of the current batch asked for (readAll). */
  private readShare = 0;

  // Double-buffered: writes made while a flush settles (a 'drain' listener writing) go to the
  // other set, and are sent by the next flush.
  private writes = new WriteSet();
  private spare = new WriteSet();
  /** Bytes in `writes`. */
  private batchedBytes = 0;
  // A plain Uint8Array: nothing here needs Buffer's methods, and `out.set` resolves two
  // prototypes closer (a perf profile showed fewer IC misses in flushWrites: 16 → 9 samples).
  private out = new Uint8Array(64 * 1024);
  private sendFds: Int32Array<ArrayBuffer> = new Int32Array(64);
  private sendRanges: Int32Array<ArrayBuffer> = new Int32Array(128);
  private outAB = this.out.buffer;
  private sendFdsAB = this.sendFds.buffer;
  private sendRangesAB = this.sendRanges.buffer;

  /** Pass 1 of dispatch: `owner` is ready to read in this batch. */
  addRead(owner: StreamOwner): void {
    const k = this.readCount++;
    if (k === this.readFds.length) {
      this.readFds = grow(this.readFds, 2 * k);
      this.readRanges = grow(this.readRanges, 4 * k);
      this.readFdsAB = this.readFds.buffer;
      this.readRangesAB = this.readRanges.buffer;
    }
    this.readFds[k] = owner.fd;
    owner._readSlot = k;
    this.readers[k] = owner;
  }

  get pendingReads(): number {
    return this.readCount;
  }

  /** One read_many for every socket added since the last call; `now` is the loop's time. */
  readAll(now: number): void {
    const count = this.readCount;
    // A fresh slab when this one is nearly full — or old: a slab that lives long (small reads
    // trickling in) survives garbage collections, is promoted, and then waits for a full
    // collection after its chunks are gone. Young slabs die young; only touched pages count.
    if (SLAB_SIZE - this.slabUsed < MIN_ROOM || now - this.slabBorn > SLAB_MAX_AGE_MS) {
      this.slab = newSlab();
      this.slabBuf = slabView(this.slab);
      this.slabUsed = 0;
      this.slabBorn = now;
    }
    const share = Math.min(MAX_SHARE, Math.max(MIN_SHARE, Math.floor((SLAB_SIZE - this.slabUsed) / count)));
    this.readShare = share;
    const ranges = this.readRanges;
    for (let i = 0; i < count; i++) ranges[2 * i + 1] = share;
    this.slabUsed = read_many(this.readFdsAB, count, this.slab, this.readRangesAB, this.slabUsed);
  }

  /** Pass 2: hands `owner` its read result (if it had one this batch); `events` is its epoll mask. */
  deliverRead(owner: StreamOwner, events: number): void {
    const k = owner._readSlot;
    if (k < 0) return;
    owner._readSlot = -1;
    const n = this.readRanges[2 * k + 1]!;
    const start = this.readRanges[2 * k]!;
    owner._onRead(n, this.slab, start, this.slabBuf);
    // Maybe more, that no new edge will announce: the read got all it asked for (its share, or
    // the rest of the slab) or found no room; or the peer's FIN or an error came with the bytes
    // (a read returns the bytes first; the EOF or the error is for the next one).
    if (n === this.readShare || n === ENOBUFS || (n > 0 && (start + n === SLAB_SIZE || events & CLOSING))) {
      owner._readAgain();
    }
  }

  /** After dispatch: forget this batch's reads (results not delivered are dropped: closed owners). */
  endReads(): void {
    const readers = this.readers;
    for (let i = 0; i < this.readCount; i++) {
      readers[i]!._readSlot = -1;
      readers[i] = NO_OWNER;
    }
    this.readCount = 0;
  }

  /**
   * Whether a write of `n` bytes may join this iteration's batch. The batch is copied into one
   * out buffer, and that buffer lives as long as the loop: a burst must not make it grow to its
   * size (200 MB written in one callback once pinned 201 MiB for good, and past 2 GiB the
   * ranges overflowed int32: issue #20). Past BATCH_LIMIT, writers send or queue on their own.
   */
  canTake(n: number): boolean {
    return this.batchedBytes + n <= BATCH_LIMIT;
  }

  /** A write during an iteration: collected, sent by flushWrites(). */
  addWrite(owner: StreamOwner, buf: Uint8Array, cb: WriteCallback): void {
    this.batchedBytes += buf.length;
    this.writes.add(owner, buf, cb);
  }

  /**
   * Sends at once, best effort, what `owner` wrote in this iteration: it is being destroyed, and
   * libuv would have tried each write when it was made (Node's http writes a 400 and destroys
   * the socket in the same callback). What the kernel does not take is dropped, as in libuv.
   */
  sendNow(owner: StreamOwner): void {
    const set = this.writes;
    const mine: Uint8Array[] = [];
    for (let i = 0; i < set.count; i++) if (set.owners[i] === owner) mine.push(set.bufs[i]!);
    if (mine.length === 0 || owner.fd < 0) return;
    try {
      sys.sendmsg(owner.fd, mine);
    } catch {
      // the peer is gone: nothing to deliver
    }
  }

  get pendingWrites(): number {
    return this.writes.writerCount;
  }

  /** One send_many for every socket that wrote in this iteration. */
  flushWrites(): void {
    const set = this.writes;
    const count = set.writerCount;
    if (count === 0) return;
    this.writes = this.spare;
    this.spare = set;
    this.batchedBytes = 0;
    const writers = set.writers;
    const owners = set.owners;
    const bufs = set.bufs;
    if (count > this.sendFds.length) {
      this.sendFds = grow(this.sendFds, 2 * count);
      this.sendRanges = grow(this.sendRanges, 4 * count);
      this.sendFdsAB = this.sendFds.buffer;
      this.sendRangesAB = this.sendRanges.buffer;
    }
    // Lay each writer's bytes out contiguously, in the order of its first write.
    let total = 0;
    for (let i = 0; i < count; i++) {
      const w = writers[i]!;
      this.sendFds[i] = w.fd;
      this.sendRanges[2 * i] = total;
      this.sendRanges[2 * i + 1] = w._batchBytes;
      w._batchCursor = total;
      total += w._batchBytes;
    }
    if (total > this.out.length) {
      this.out = new Uint8Array(Math.max(total, 2 * this.out.length));
      this.outAB = this.out.buffer;
    }
    const out = this.out;
    for (let i = 0; i < set.count; i++) {
      const w = owners[i]!;
      const b = bufs[i]!;
      out.set(b, w._batchCursor);
      w._batchCursor += b.length;
    }
    // A writer destroyed during the iteration has fd −1: send nothing for it.
    let live = 0;
    for (let i = 0; i < count; i++) if (this.sendFds[i]! >= 0) live++;
    if (live === count) send_many(this.sendFdsAB, count, this.outAB, this.sendRangesAB);
    else sendSkippingClosed(this.sendFds, count, out, this.sendRanges);
    // Each writer learns how much went out. The common case — everything went, no callbacks to
    // call — is settled in one step; otherwise its writes are settled one by one, in order.
    let piecewise = false;
    for (let i = 0; i < count; i++) {
      const w = writers[i]!;
      const sent = this.sendRanges[2 * i + 1]!;
      if (sent === w._batchBytes && !w._batchCallbacks) {
        w._batchSent = SETTLED;
        w._onBatchSent(sent);
      } else {
        w._batchSent = sent;
        piecewise = true;
      }
      w._batchBytes = 0;
      w._batchCallbacks = false;
    }
    if (piecewise) {
      for (let i = 0; i < set.count; i++) {
        const w = owners[i]!;
        if (w._batchSent !== SETTLED) w._onBatchPiece(bufs[i]!, set.cbs[i]);
      }
    }
    for (let i = 0; i < count; i++) writers[i]!._onBatchDone();
    set.clear();
  }
}

function grow(a: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}

/** send_many for the entries whose fd is still open; closed ones get −EBADF. */
function sendSkippingClosed(fds: Int32Array, count: number, out: Uint8Array, ranges: Int32Array): void {
  for (let i = 0; i < count; i++) {
    if (fds[i]! < 0) {
      ranges[2 * i + 1] = -sys.errno.EBADF!;
      continue;
    }
    const one = ranges.subarray(2 * i, 2 * i + 2);
    send_many(fds.subarray(i, i + 1), 1, out, one);
  }
}
