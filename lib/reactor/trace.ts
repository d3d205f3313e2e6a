/**
 * The flight recorder: what the loop did, iteration by iteration, and why it slept as long as it
 * did. Off by default; when off the loop pays one null check per phase. When on, it records
 * into a ring buffer of the last `limit` iterations (bounded memory), and exports as Chrome /
 * Perfetto trace JSON (open in https://ui.perfetto.dev or chrome://tracing) or as a text log.
 *
 * @example
 * ```ts
 * loop.trace.start({ limit: 500 });
 * await loop.run();
 * console.log(loop.trace.toText());
 * writeFileSync('loop.trace.json', JSON.stringify(loop.trace.toChromeTrace()));
 * ```
 */
import * as sys from '../sys/index';

/** Why the loop chose its timeout. */
export type TimeoutReason =
  | 'immediates' // immediates or deferred callbacks were pending: 0
  | 'stopping' // stop() was called: 0
  | 'writes' // batched writes waited to be sent: 0
  | 'timer' // the nearest timer: its deadline − now, rounded up
  | 'node' // standalone: Node's loop has a timer due before ours (or none of ours): until then
  | 'due' // the nearest timer is already due: 0
  | 'no-timers' // nothing but fds to wait for: −1
  | 'no-wait' // runNoWait, or the attached driver (Node did the waiting)
  | 'peek'; // run() looking without sleeping before it may sleep

export interface TracedCallback {
  kind: 'io' | 'timer' | 'immediate' | 'deferred' | 'alarm';
  /** The fd (io; alarm: the loop's own timerfd), the timer's start sequence number (timer), or −1. */
  id: number;
  /** The event mask (io), or the lateness in ms (timer), else 0. */
  detail: number;
  /** Start, relative to the iteration start, and duration, in ms. */
  at: number;
  ms: number;
}

export interface TracedIteration {
  index: number;
  /** CLOCK_MONOTONIC ms when the iteration started (before the wait). */
  start: number;
  /** The timeout given to epoll_wait (ms; −1 = block) and why. */
  timeout: number;
  reason: TimeoutReason;
  /** For reason 'timer' / 'due': the timer's start sequence number and delay. */
  timerSeq: number;
  timerDelay: number;
  /**
   * For reason 'timer': how long before the timer's deadline the sleep ends (ms) — `spinUs`
   * plus the wake-up latency the loop has learnt (docs/loop.md); the rest is polled. Else 0.
   */
  lead: number;
  /** How long the wait really took (ms). */
  slept: number;
  /** (fd, mask) pairs returned by the wait. */
  events: number[];
  callbacks: TracedCallback[];
  /** Total duration of the iteration (ms). */
  ms: number;
}

function maskText(mask: number): string {
  const names: string[] = [];
  for (const [name, bit] of [
    ['IN', sys.EPOLLIN],
    ['OUT', sys.EPOLLOUT],
    ['RDHUP', sys.EPOLLRDHUP],
    ['PRI', sys.EPOLLPRI],
    ['ERR', sys.EPOLLERR],
    ['HUP', sys.EPOLLHUP],
  ] as const) {
    if (mask & bit) names.push(name);
  }
  return names.join('|') || '0';
}

export class Tracer {
  private ring: TracedIteration[] = [];
  private next = 0;
  private count = 0;
  private limit = 1000;
  private current: TracedIteration | null = null;
  /** Set while recording. */
  enabled = false;
  /** Iterations recorded since start (including those the ring has dropped). */
  recorded = 0;
  /** @internal A hook for the loop: called when start()/stop() change `enabled`. */
  onToggle: ((on: boolean) => void) | null = null;

  /** Start recording the last `limit` iterations (default 1000), clearing what was there. */
  start(options: { limit?: number } = {}): void {
    const limit = options.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    this.limit = limit;
    this.ring = [];
    this.next = 0;
    this.count = 0;
    this.recorded = 0;
    this.enabled = true;
    this.onToggle?.(true);
  }

  /** Stop recording; what was recorded stays readable. */
  stop(): void {
    this.enabled = false;
    this.current = null;
    this.onToggle?.(false);
  }

  /** The recorded iterations, oldest first. */
  records(): TracedIteration[] {
    if (this.count < this.limit) return this.ring.slice(0, this.count);
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  // ── recording (called by the loop) ──

  /** @internal */
  recordBegin(index: number, start: number, timeout: number, reason: TimeoutReason, timerSeq: number, timerDelay: number, lead: number): void {
    const it: TracedIteration = {
      index,
      start,
      timeout,
      reason,
      timerSeq,
      timerDelay,
      lead,
      slept: 0,
      events: [],
      callbacks: [],
      ms: 0,
    };
    this.current = it;
  }

  /** @internal */
  recordWake(now: number, events: Uint32Array, n: number, fdOf: (token: number) => number): void {
    const it = this.current;
    if (it === null) return;
    it.slept = now - it.start;
    for (let i = 0; i < n; i++) {
      const fd = fdOf(events[2 * i + 1] as number);
      if (fd >= 0) it.events.push(fd, events[2 * i] as number); // −1: the loop's own deadline timerfd
    }
  }

  /** @internal */
  recordCallback(kind: TracedCallback['kind'], id: number, detail: number, start: number, end: number): void {
    const it = this.current;
    if (it !== null) it.callbacks.push({ kind, id, detail, at: start - it.start, ms: end - start });
  }

  /** @internal */
  recordEnd(now: number): void {
    const it = this.current;
    if (it === null) return;
    it.ms = now - it.start;
    this.current = null;
    this.ring[this.next] = it;
    this.next = (this.next + 1) % this.limit;
    if (this.count < this.limit) this.count++;
    this.recorded++;
  }

  // ── export ──

  /** Chrome / Perfetto "trace event" JSON: one track for the loop, times in µs. */
  toChromeTrace(): { traceEvents: object[]; displayTimeUnit: string } {
    const events: object[] = [];
    const us = (ms: number): number => Math.round(ms * 1000);
    const pid = process.pid;
    for (const it of this.records()) {
      events.push({
        name: `iteration ${it.index}`,
        ph: 'X',
        pid,
        tid: 1,
        ts: us(it.start),
        dur: Math.max(us(it.ms), 1),
        args: { timeout: it.timeout, reason: it.reason, timer: it.timerSeq, lead: it.lead, events: it.events.length / 2 },
      });
      events.push({
        name: it.timeout === 0 ? 'poll' : `sleep (timeout ${it.timeout === -1 ? '∞' : `${it.timeout.toFixed(3)} ms`}: ${it.reason})`,
        ph: 'X',
        pid,
        tid: 1,
        ts: us(it.start),
        dur: Math.max(us(it.slept), 1),
        args: { requested: it.timeout, slept: it.slept },
      });
      for (const cb of it.callbacks) {
        events.push({
          name: cb.kind === 'io' ? `io fd ${cb.id} ${maskText(cb.detail)}` : cb.kind === 'timer' ? `timer #${cb.id}` : cb.kind,
          ph: 'X',
          pid,
          tid: 1,
          ts: us(it.start + cb.at),
          dur: Math.max(us(cb.ms), 1),
          args: cb.kind === 'timer' ? { latenessMs: cb.detail } : cb.kind === 'io' ? { fd: cb.id, mask: cb.detail } : {},
        });
      }
    }
    return { traceEvents: events, displayTimeUnit: 'ms' };
  }

  /** One readable line per iteration. */
  toText(): string {
    const lines: string[] = [];
    const first = this.records()[0]?.start ?? 0;
    for (const it of this.records()) {
      const why =
        it.reason === 'timer'
          ? `timer #${it.timerSeq} (${it.timerDelay} ms) is next${it.lead > 0 ? `, alarm ${it.lead.toFixed(3)} ms early` : ''}`
          : it.reason === 'due'
            ? `timer #${it.timerSeq} is due`
            : it.reason === 'node'
              ? "Node's next timer is sooner"
              : it.reason;
      const timeout = it.timeout === -1 ? '-1 (block)' : `${it.timeout.toFixed(3)} ms`;
      const events: string[] = [];
      for (let i = 0; i < it.events.length; i += 2) events.push(`fd ${it.events[i]} ${maskText(it.events[i + 1]!)}`);
      const cbs = it.callbacks.map((c) =>
        c.kind === 'io'
          ? `io fd ${c.id} ${c.ms.toFixed(3)} ms`
          : c.kind === 'timer'
            ? `timer #${c.id} late ${c.detail.toFixed(3)} ms`
            : `${c.kind} ${c.ms.toFixed(3)} ms`,
      );
      lines.push(
        `#${it.index} +${(it.start - first).toFixed(3)} ms  timeout ${timeout} [${why}]  slept ${it.slept.toFixed(3)} ms` +
          `  → ${it.events.length / 2} event(s)${events.length ? ` [${events.join(', ')}]` : ''}` +
          `${cbs.length ? `  ${cbs.join('; ')}` : ''}`,
      );
    }
    return lines.join('\n');
  }
}
