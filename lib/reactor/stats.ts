/**
 * Always-on loop statistics: plain counters the loop bumps as it goes, plus a log-linear
 * histogram of timer lateness. Cheap enough to leave on (a few additions per iteration; see the
 * boundary-cost benchmark).
 */

/** Lateness histogram: bucket k covers [2^(k/8) − 1, 2^((k+1)/8) − 1) µs, ~9% wide. */
const BUCKETS = 8 * 40;

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  total = 0;
  max = 0;
  /** Samples below zero: a timer that fired before its deadline (must stay 0). */
  negative = 0;

  /** Adds one sample, in milliseconds. */
  add(ms: number): void {
    this.total++;
    if (ms < 0) {
      this.negative++;
      return;
    }
    // Branch-free on purpose: after a reset, a store reached for the first time in a long while
    // has no type feedback and deoptimises the loop's hot path (seen in the timer benchmark).
    this.max = Math.max(this.max, ms);
    let k = Math.floor(8 * Math.log2(ms * 1000 + 1));
    if (k >= BUCKETS) k = BUCKETS - 1;
    this.counts[k]!++;
  }

  /** The q-quantile (0..1) in milliseconds, from bucket upper bounds (never under-reports). */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    let rank = Math.ceil(q * this.total) - this.negative;
    if (rank <= 0) return 0;
    for (let k = 0; k < BUCKETS; k++) {
      rank -= this.counts[k]!;
      if (rank <= 0) return Math.min(this.max, (2 ** ((k + 1) / 8) - 1) / 1000);
    }
    return this.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.max = 0;
    this.negative = 0;
  }
}

/** What `loop.stats()` returns. Times in milliseconds. */
export interface LoopStatsSnapshot {
  /** Loop iterations (one epoll_wait each). */
  iterations: number;
  /** Why each iteration's wait ended. */
  wakeups: {
    /** epoll_wait returned events. */
    io: number;
    /** It slept until a timer's deadline and no event came. */
    timer: number;
    /** It did not sleep at all: timeout 0 (immediates pending, a timer already due, stopping). */
    immediate: number;
    /**
     * It slept and woke with nothing to do: usually the alarm spinUs before a timer (the loop
     * then polls until it is due), else a signal, or a timeout rounded short.
     */
    none: number;
  };
  /** Events delivered to watchers (and dropped as stale). */
  events: { delivered: number; stale: number; perWakeupMean: number; perWakeupMax: number };
  /**
   * Time asleep vs awake, since the stats were last reset. Standalone: asleep is the time in
   * epoll_wait. Attached: asleep is the time between our turns, which belongs to Node's loop
   * (sleeping, or running its own callbacks).
   */
  time: { asleep: number; busy: number; asleepShare: number };
  timers: {
    fired: number;
    /** Fired − deadline. `early` counts firings before the deadline: always 0. */
    lateness: { p50: number; p99: number; max: number; early: number };
    /**
     * The loop's estimate of its own wake-up latency (ms): the median time from the alarm's
     * expiry to the loop running. The alarm rings this much (plus spinUs) before a timer. Not
     * reset by `reset`: it is what the loop has learned, not a count. 0 with spinUs 0.
     */
    wakeLatency: number;
  };
  alive: { watchers: number; timers: number; immediates: number; refs: number };
}

/** Raw counters kept by the loop. */
export class LoopCounters {
  iterations = 0;
  ioWakeups = 0;
  timerWakeups = 0;
  immediateWakeups = 0;
  emptyWakeups = 0;
  eventsDelivered = 0;
  eventsStale = 0;
  eventsMax = 0;
  asleepMs = 0;
  timersFired = 0;
  readonly lateness = new LatencyHistogram();
  since = 0;

  reset(now: number): void {
    this.iterations = 0;
    this.ioWakeups = 0;
    this.timerWakeups = 0;
    this.immediateWakeups = 0;
    this.emptyWakeups = 0;
    this.eventsDelivered = 0;
    this.eventsStale = 0;
    this.eventsMax = 0;
    this.asleepMs = 0;
    this.timersFired = 0;
    this.lateness.reset();
    this.since = now;
  }
}
