/**
 * A cross-thread message queue: many producers (any thread), one consumer (a loop), over a
 * ring buffer in a SharedArrayBuffer and a {@link Waker}. Why not a MessagePort:
 * docs/decisions/030-thread-queue.md.
 *
 * The ring holds records `[u32 length][u32 kind][bytes][padding to 4]`, written and read under a spin lock
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
  /**
   * Bytes of the ring (default 1 MiB, at least 64, rounded up to a multiple of 4): a message may
   * take up to capacity − 8 encoded; each takes 8 more, and its length rounded up to 4.
   */
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

/** Bytes a record of `length` body bytes takes: records start on 4-byte boundaries. */
const recordSize = (length: number): number => RECORD + ((length + 3) & ~3);

/**
 * The ring itself: what consumer and producers share. Records are 4-byte aligned, so a header is
 * two words of `ringWords` (the second may wrap to word 0), and bodies move with one
 * `Uint8Array.set` / `Buffer.copy` when they do not wrap: no view is made per message.
 */
class Ring {
  readonly words: Int32Array;
  readonly capacity: number;
  private readonly ringWords: Uint32Array;
  /** The ring's bytes as a Buffer: copy(), write() and toString() without a view per call. */
  private readonly ringBytes: Buffer;

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, HEADER / 4);
    this.capacity = buffer.byteLength - HEADER;
    this.ringWords = new Uint32Array(buffer, HEADER, this.capacity / 4);
    this.ringBytes = Buffer.from(buffer, HEADER, this.capacity);
  }

  lock(): void {
    while (Atomics.compareExchange(this.words, LOCK, 0, 1) !== 0) Atomics.wait(this.words, LOCK, 1, 1);
  }

  unlock(): void {
    Atomics.store(this.words, LOCK, 0);
    Atomics.notify(this.words, LOCK, 1);
  }

  /** Writes a header at `pos`; returns where the body starts. */
  private writeHead(pos: number, length: number, kind: number): number {
    const n = this.ringWords.length;
    const word = pos >> 2;
    this.ringWords[word] = length;
    this.ringWords[(word + 1) % n] = kind;
    return (pos + RECORD) % this.capacity;
  }

  /** 1: queued and the queue was empty (wake the consumer); 0: queued; −1: no room. Throws if closed. */
  push(kind: number, body: Uint8Array | string, length: number): number {
    const need = recordSize(length);
    this.lock();
    try {
      const w = this.words;
      if (w[CLOSED] !== 0) throw threadsError('ERR_QUEUE_CLOSED', 'the queue is closed');
      const used = w[USED]!;
      if (this.capacity - used < need) return -1;
      const pos = this.writeHead((w[READ]! + used) % this.capacity, length, kind);
      if (typeof body === 'string') {
        if (pos + length <= this.capacity) this.ringBytes.write(body, pos, length, 'utf8');
        else this.copyIn(pos, Buffer.from(body, 'utf8'));
      } else this.copyIn(pos, body);
      w[USED] = used + need;
      return w[COUNT]!++ === 0 ? 1 : 0;
    } finally {
      this.unlock();
    }
  }

  private copyIn(pos: number, src: Uint8Array): void {
    const first = this.capacity - pos;
    if (src.length <= first) {
      this.ringBytes.set(src, pos);
      return;
    }
    this.ringBytes.set(src.subarray(0, first), pos);
    this.ringBytes.set(src.subarray(first), 0);
  }

  /**
   * Takes every record, in order, as [kind, body] pairs appended to `out`: a string's body
   * decoded already, any other a Buffer (a copy).
   */
  takeAll(out: unknown[]): void {
    this.lock();
    try {
      const w = this.words;
      const n = this.ringWords.length;
      let pos = w[READ]!;
      for (let count = w[COUNT]!; count > 0; count--) {
        const word = pos >> 2;
        const length = this.ringWords[word]!;
        const kind = this.ringWords[(word + 1) % n]!;
        const at = (pos + RECORD) % this.capacity;
        const end = at + length;
        if (end <= this.capacity) {
          if (kind === KIND_STRING) out.push(kind, this.ringBytes.toString('utf8', at, end));
          else {
            const body = Buffer.allocUnsafe(length);
            this.ringBytes.copy(body, 0, at, end);
            out.push(kind, body);
          }
        } else {
          const body = Buffer.allocUnsafe(length);
          this.ringBytes.copy(body, 0, at, this.capacity);
          this.ringBytes.copy(body, this.capacity - at, 0, end - this.capacity);
          out.push(kind, kind === KIND_STRING ? body.toString('utf8') : body);
        }
        pos = (pos + recordSize(length)) % this.capacity;
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

function encode(value: unknown): [number, Uint8Array | string, number] {
  if (value instanceof Uint8Array) return [KIND_BYTES, value, value.length];
  // A string is written into the ring directly, under the lock (no Buffer made for it).
  if (typeof value === 'string') return [KIND_STRING, value, Buffer.byteLength(value, 'utf8')];
  const body = serialize(value);
  return [KIND_VALUE, body, body.length];
}

function decode(kind: number, body: unknown): unknown {
  if (kind === KIND_VALUE) return deserialize(body as Buffer);
  return body; // KIND_BYTES: a Buffer; KIND_STRING: decoded by takeAll
}

function isQueueHandle(h: unknown): h is QueueHandle {
  return (
    h !== null &&
    typeof h === 'object' &&
    (h as QueueHandle).buffer instanceof SharedArrayBuffer &&
    (h as QueueHandle).buffer.byteLength >= HEADER + 64 &&
    (h as QueueHandle).buffer.byteLength % 4 === 0 &&
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
    const [kind, body, length] = encode(value);
    if (RECORD + length > this.ring.capacity) {
      throw outOfRange('value', `at most ${this.ring.capacity - RECORD} bytes encoded`, length);
    }
    const r = this.ring.push(kind, body, length);
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
    const buffer = new SharedArrayBuffer(HEADER + ((capacity + 3) & ~3));
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
