/**
 * The I/O phase: one poll of the epoll set — the whole batch lands in a reused Uint32Array of
 * (mask, token) pairs — then each event to the watcher its token names (libuv's uv__io_poll).
 *
 * Streams are served in slices of STREAM_SLICE events: every ready socket of the slice is read
 * with one native call (`read_many`), the slice's callbacks run in the kernel's order, and what
 * they wrote is sent with one more (`send_many`) before the next slice.
 */
import * as sys from '../sys/index';
import { monotonicMs } from './clock';
import type { Registry } from './registry';
import type { LoopCounters } from './stats';
import type { StreamBatch } from './stream-batch';
import type { Tracer } from './trace';

// Bound once: `sys` has too many exports to be a fast object (a dictionary lookup per call).
const { epoll_wait, epoll_pwait2, epoll_spin } = sys;
/** Events after which a stream has something to read: data, EOF, or an error to collect. */
const READABLE = sys.EPOLLIN | sys.EPOLLRDHUP | sys.EPOLLHUP | sys.EPOLLERR;
/**
 * Stream events served per read/callbacks/send round within one batch, and the default number of
 * events fetched per wait. docs/decisions/005-batch-of-64.md.
 */
export const STREAM_SLICE = 64;
/** Rounds of sending what writes made while a flush settled (a 'drain' listener writing). */
const FLUSH_ROUNDS = 8;

export interface IoHost {
  report(e: unknown): void;
}

export class IoPhase {
  readonly events: Uint32Array;
  /** The events' ArrayBuffer: what the natives are given (cheaper for Node-API than the view). */
  readonly eventsBuffer: ArrayBuffer;
  /** The flight recorder while it records, else null. */
  trace: Tracer | null = null;

  constructor(
    private readonly epfd: number,
    maxEvents: number,
    /** Whether epoll_pwait2 (ns timeouts) is there. */
    readonly usePwait2: boolean,
    private readonly registry: Registry,
    private readonly streams: StreamBatch,
    private readonly counters: LoopCounters,
    private readonly host: IoHost,
  ) {
    this.events = new Uint32Array(2 * maxEvents);
    this.eventsBuffer = this.events.buffer as ArrayBuffer;
  }

  /** One wait: `timeout` ms (−1 = until an event). Returns how many events are in `events`. */
  poll(timeout: number): number {
    if (this.usePwait2) {
      return epoll_pwait2(this.epfd, this.eventsBuffer, timeout < 0 ? -1 : Math.round(timeout * 1e6));
    }
    return epoll_wait(this.epfd, this.eventsBuffer, timeout < 0 ? -1 : Math.ceil(timeout));
  }

  /**
   * Polls until `until` (ms) or the first event, in one native call (sys.epoll_spin): one look
   * per crossing cost a clock reading boxed as a double each, and their garbage, collected in
   * the middle of a spin, cost more lateness than the spin saved.
   */
  spin(until: number): number {
    return epoll_spin(this.epfd, this.eventsBuffer, Math.ceil(until * 1e6));
  }

  /** Delivers the `n` events of the last poll; `now` is the loop's time. */
  dispatch(n: number, now: number): void {
    const registry = this.registry;
    registry.dispatching = true;
    if (registry.streams > 0) {
      for (let lo = 0; lo < n; lo += STREAM_SLICE) {
        const hi = Math.min(lo + STREAM_SLICE, n);
        this.dispatchRange(lo, hi, now);
        if (hi < n && this.streams.pendingWrites > 0) this.flushStreams();
      }
    } else this.dispatchRange(0, n, now);
    registry.dispatching = false;
    const c = this.counters;
    const user = n - registry.internalEvents; // the loop's own (its alarm, Node's epoll fd) are not counted
    c.eventsDelivered += user;
    c.eventsMax = Math.max(c.eventsMax, user);
    registry.endBatch();
  }

  /** Delivers events [lo, hi) of this batch. */
  private dispatchRange(lo: number, hi: number, now: number): void {
    const events = this.events;
    const registry = this.registry;
    const streams = this.streams;
    const c = this.counters;
    const batchReads = registry.streams > 0;
    // Pass 1: every ready stream that wants its data read is read now, in one native call.
    if (batchReads) {
      for (let i = lo; i < hi; i++) {
        const w = registry.lookup(events[2 * i + 1] as number);
        const owner = w?.stream;
        if (owner?._wantsRead && (events[2 * i] as number) & READABLE) streams.addRead(owner);
      }
      if (streams.pendingReads > 0) streams.readAll(now);
    }
    // Pass 2: callbacks, in the kernel's order.
    for (let i = lo; i < hi; i++) {
      const mask = events[2 * i] as number;
      // A registration closed earlier in this batch (its slot is held until the batch ends),
      // or one from before an fd number was reused: never delivered.
      const w = registry.lookup(events[2 * i + 1] as number);
      if (w === undefined) {
        c.eventsStale++;
        continue;
      }
      if (w.internal) registry.internalEvents++;
      const trace = this.trace;
      const t0 = trace !== null ? monotonicMs() : 0;
      try {
        if (w.stream !== null) {
          streams.deliverRead(w.stream, mask);
          if (w.removed) continue;
        }
        w.callback(mask, w);
      } catch (e) {
        this.host.report(e);
      }
      // The loop's own watchers are not the user's I/O: "alarm" in the flight recorder.
      if (trace !== null) trace.recordCallback(w.internal ? 'alarm' : 'io', w.fd, mask, t0, monotonicMs());
    }
    if (batchReads) streams.endReads();
  }

  /** Sends what streams wrote during this turn; writes made while settling go out too. */
  flushStreams(): void {
    for (let round = 0; round < FLUSH_ROUNDS && this.streams.pendingWrites > 0; round++) {
      try {
        this.streams.flushWrites();
      } catch (e) {
        this.host.report(e);
      }
    }
  }
}
