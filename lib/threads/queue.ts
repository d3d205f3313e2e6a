/**
 * A cross-thread message queue: many producers (any thread), one consumer (a loop), over a
 * ring buffer in a SharedArrayBuffer and a {@link Waker}. Why not a MessagePort:
 * docs/decisions/030-thread-queue.md.
 *
 * The ring holds records `[u32 length][u32 kind][bytes]`, written and read under a spin lock
 * (Atomics.compareExchange; the critical section is one copy). A producer wakes the consumer
 * only when it made the queue non-empty: the consumer takes everything under the same lock, so
 * a producer that finds messages queued knows a wake is on its way or the consumer has yet to
 * drain (it reads the eventfd before it takes the lock) — no wake is lost, and a burst costs
 * one eventfd write, not one per message.
 */
import { EventEmitter } from 'node:events';
import { deserialize, serialize } from 'node:v8';
import { invalidArgType, outOfRange } from '../errors';
import { loop as defaultLoop, type Loop } from '../reactor/index';
import { threadsError } from './errors';
import { Waker, type WakerHandle } from './waker';

/** What a queue is shared by: structured-cloneable (postMessage, workerData). */
export interface QueueHandle {
  readonly buffer: SharedArrayBuffer;
  readonly waker: WakerHandle;
}

export interface MessageQueueOptions {
  /** Bytes of the ring (default 1 MiB, at least 64): a message may take up to capacity − 8. */
  capacity?: number;
  /** The consumer's loop (default: the default loop). */
  loop?: Loop;
}

// Header words (Int32), then the ring from byte HEADER on.
const LOCK = 0;
const READ = 1; // byte offset of the oldest record in the ring
const USED = 2; // bytes in use
const COUNT = 3; // records in the ring
const CLOSED = 4;
const HEADER = 64;
const RECORD = 8;

const KIND_BYTES = 0;
const KIND_STRING = 1;
const KIND_VALUE = 2;

/** The ring itself: what consumer and producers share. */
class Ring {
  readonly words: Int32Array;
  readonly bytes: Uint8Array;
  readonly capacity: number;
  private readonly head = new Uint8Array(RECORD);
  private readonly headWords = new Uint32Array(this.head.buffer);

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, HEADER / 4);
    this.capacity = buffer.byteLength - HEADER;
    this.bytes = new Uint8Array(buffer, HEADER, this.capacity);
  }

  lock(): void {
    while (Atomics.compareExchange(this.words, LOCK, 0, 1) !== 0) Atomics.wait(this.words, LOCK, 1, 1);
  }

  unlock(): void {
    Atomics.store(this.words, LOCK, 0);
    Atomics.notify(this.words, LOCK, 1);
  }

  private copyIn(pos: number, src: Uint8Array): number {
    const first = Math.min(src.length, this.capacity - pos);
    this.bytes.set(src.subarray(0, first), pos);
    if (first < src.length) this.bytes.set(src.subarray(first), 0);
    return (pos + src.length) % this.capacity;
  }

  private copyOut(pos: number, dst: Uint8Array): number {
    const first = Math.min(dst.length, this.capacity - pos);
    dst.set(this.bytes.subarray(pos, pos + first), 0);
    if (first < dst.length) dst.set(this.bytes.subarray(0, dst.length - first), first);
    return (pos + dst.length) % this.capacity;
  }

  /** 1: queued and the queue was empty (wake the consumer); 0: queued; −1: no room. Throws if closed. */
  push(kind: number, body: Uint8Array): number {
    const need = RECORD + body.length;
    this.lock();
    try {
      const w = this.words;
      if (w[CLOSED] !== 0) throw threadsError('ERR_QUEUE_CLOSED', 'the queue is closed');
      const used = w[USED]!;
      if (this.capacity - used < need) return -1;
      this.headWords[0] = body.length;
      this.headWords[1] = kind;
      let pos = (w[READ]! + used) % this.capacity;
      pos = this.copyIn(pos, this.head);
      this.copyIn(pos, body);
      w[USED] = used + need;
      return w[COUNT]!++ === 0 ? 1 : 0;
    } finally {
      this.unlock();
    }
  }

  /** Takes every record, in order, as [kind, bytes] pairs appended to `out`. */
  takeAll(out: unknown[]): void {
    this.lock();
    try {
      const w = this.words;
      let pos = w[READ]!;
      for (let n = w[COUNT]!; n > 0; n--) {
        pos = this.copyOut(pos, this.head);
        const body = Buffer.allocUnsafe(this.headWords[0]!);
        pos = this.copyOut(pos, body);
        out.push(this.headWords[1], body);
      }
      w[READ] = pos;
      w[USED] = 0;
      w[COUNT] = 0;
    } finally {
      this.unlock();
    }
  }

  close(): void {
    this.lock();
    this.words[CLOSED] = 1;
    this.unlock();
  }
}

function encode(value: unknown): [number, Uint8Array] {
  if (value instanceof Uint8Array) return [KIND_BYTES, value];
  if (typeof value === 'string') return [KIND_STRING, Buffer.from(value, 'utf8')];
  return [KIND_VALUE, serialize(value)];
}

function decode(kind: number, body: Buffer): unknown {
  if (kind === KIND_BYTES) return body;
  if (kind === KIND_STRING) return body.toString('utf8');
  return deserialize(body);
}

function isQueueHandle(h: unknown): h is QueueHandle {
  return (
    h !== null &&
    typeof h === 'object' &&
    (h as QueueHandle).buffer instanceof SharedArrayBuffer &&
    (h as QueueHandle).buffer.byteLength >= HEADER + 64 &&
    typeof (h as QueueHandle).waker === 'object'
  );
}

/** Sends to a queue: made by {@link MessageQueue.connect} in any thread. */
export class QueueSender {
  private readonly ring: Ring;
  private readonly waker: Waker;

  /** @internal */
  constructor(ring: Ring, waker: Waker) {
    this.ring = ring;
    this.waker = waker;
  }

  /**
   * Queue `value`: a Uint8Array arrives as a Buffer (a copy), a string as a string, anything
   * else as the structured clone `v8.serialize` makes of it. Returns false when the ring has no
   * room for it now (nothing is queued: try again later); throws ERR_QUEUE_CLOSED once the
   * consumer has closed, and a RangeError for a message larger than the ring.
   */
  send(value: unknown): boolean {
    const [kind, body] = encode(value);
    if (RECORD + body.length > this.ring.capacity) {
      throw outOfRange('value', `at most ${this.ring.capacity - RECORD} bytes encoded`, body.length);
    }
    const r = this.ring.push(kind, body);
    if (r === 1) this.waker.wake();
    return r >= 0;
  }

  /** Close this thread's dup of the queue's eventfd. Idempotent. */
  close(): void {
    this.waker.close();
  }
}

/**
 * The consumer's end: `'message'` events in its loop, in the order the messages were queued
 * (per producer; producers interleave as their sends took the lock).
 *
 * @example
 * ```ts
 * import { threads } from 'epoll-reactor';
 * const inbox = new threads.MessageQueue();
 * inbox.on('message', (m) => console.log(m));
 * new Worker('./w.js', { workerData: inbox.handle });
 * // in w.js: threads.MessageQueue.connect(workerData).send({ hello: 'main' });
 * ```
 */
export class MessageQueue extends EventEmitter {
  /** Pass this to a producer thread; {@link MessageQueue.connect} there. */
  readonly handle: QueueHandle;
  readonly loop: Loop;
  private readonly ring: Ring;
  private readonly waker: Waker;
  private readonly sender: QueueSender;
  /** Records taken but not delivered yet (a listener threw part-way through a batch). */
  private backlog: unknown[] = [];
  private closedFlag = false;

  constructor(options: MessageQueueOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const capacity = options.capacity ?? 1 << 20;
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > 2 ** 30) {
      throw outOfRange('options.capacity', 'an integer from 64 to 2^30', capacity);
    }
    this.loop = options.loop ?? defaultLoop;
    const buffer = new SharedArrayBuffer(HEADER + capacity);
    this.ring = new Ring(buffer);
    this.waker = new Waker();
    try {
      this.waker.listen(this.loop, () => this.deliver());
    } catch (e) {
      this.waker.close();
      throw e;
    }
    this.handle = { buffer, waker: this.waker.handle };
    this.sender = new QueueSender(this.ring, this.waker);
  }

  /** A sender for the queue behind `handle`, in this thread (it dups the queue's eventfd). */
  static connect(handle: QueueHandle): QueueSender {
    if (!isQueueHandle(handle)) throw invalidArgType('handle', 'a QueueHandle ({ buffer, waker })', handle);
    return new QueueSender(new Ring(handle.buffer), Waker.from(handle.waker));
  }

  /** Send from the consumer's own thread (see {@link QueueSender.send}). */
  send(value: unknown): boolean {
    return this.sender.send(value);
  }

  private deliver(): void {
    const batch = this.backlog;
    this.backlog = [];
    this.ring.takeAll(batch);
    for (let i = 0; i < batch.length; i += 2) {
      if (this.closedFlag) return;
      try {
        this.emit('message', decode(batch[i] as number, batch[i + 1] as Buffer));
      } catch (e) {
        // The rest of the batch must not be lost: kept, and a self-wake delivers it next turn.
        this.backlog = batch.slice(i + 2);
        if (this.backlog.length > 0) this.waker.wake();
        throw e;
      }
    }
  }

  /** The consumer's watcher keeps its loop alive (default); unref() lets the loop end. */
  ref(): this {
    this.waker.ref();
    return this;
  }

  unref(): this {
    this.waker.unref();
    return this;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Close the queue: producers' sends throw ERR_QUEUE_CLOSED from now on, messages not
   * delivered yet are dropped (as a closed MessagePort's), and the eventfd is closed once no
   * producer is dup'ing it. Producers close their own senders. Idempotent.
   */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.backlog = [];
    this.ring.close();
    this.waker.close();
    this.emit('close');
  }
}
