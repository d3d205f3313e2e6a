/**
 * The wait policy: how long the next wait lasts, and how it ends — a sleep that an alarm ends a
 * little early, then a poll (a spin) through the last stretch before a timer.
 *
 * A wake-up is never instant (tens of µs on this kind of machine, now and then hundreds), so a
 * timer that must not be late is not slept up to: the alarm rings `leadMs` ahead — `spinUs`,
 * plus the loop's own wake-up latency, learnt as it runs — and the loop polls from there
 * (`sys.epoll_spin`). Timeouts are rounded up, never down: a timer never runs early.
 */

/**
 * With spinUs > 0, no sleep shorter than this (ms) before a timer: the loop polls all the way
 * instead, since a wake-up costs more lateness than so short a sleep saves CPU.
 * docs/decisions/002-min-sleep.md.
 */
export const MIN_SLEEP_MS = 0.15;
/**
 * Attached, with spinUs > 0: before a sleep of Node's from PRE_WAKE_MS + MIN_SLEEP_MS to
 * PRE_WAKE_MAX_MS, the alarm wakes it this much (ms) earlier once more, so the sleep a timer's
 * precision depends on is a short one (a long-idle CPU is slow to wake). Standalone sleeps once.
 * docs/decisions/003-pre-wake.md.
 */
export const PRE_WAKE_MS = 0.25;
/** No pre-wake before a sleep this long or longer (ms): an idle loop keeps one wake-up per timer. */
export const PRE_WAKE_MAX_MS = 100;
/** The largest timeout epoll_wait takes (ms); longer sleeps are taken in several waits. */
const INT_MAX = 2 ** 31 - 1;

/**
 * Upper bound of the learnt wake-up latency (ms): past it the machine is too loaded for
 * microsecond timers anyway, and attached, a wake-up that waited for Node's own callbacks must
 * not teach the loop to wake Node ever earlier.
 */
export const MAX_WAKE_LATENCY_MS = 0.2;
/** How far one wake-up moves the estimate (ms): 1 µs. */
const WAKE_STEP_MS = 0.001;

/**
 * The median of the loop's wake-up latencies (alarm expiry → the loop running), in ms, as a
 * frugal streaming estimate (Ma, Muthukrishnan, Sandler, "Frugal Streaming for Estimating
 * Quantiles", 2013): a sample above the estimate raises it by 1 µs, one below lowers it by 1 µs —
 * one comparison, no memory, and an outlier moves it no further than any other sample. The
 * median, not a high quantile: the alarm rings this much early and the loop polls through the
 * rest, so a timer costs about spinUs of CPU. KVM tunes its guest timer advance the same way
 * (`lapic_timer_advance_ns`). docs/decisions/004-wake-latency.md.
 */
export class WakeLatency {
  /** The estimate (ms), 0 to MAX_WAKE_LATENCY_MS. */
  value = 0;

  sample(ms: number): void {
    if (ms > this.value) this.value = Math.min(this.value + WAKE_STEP_MS, MAX_WAKE_LATENCY_MS);
    else if (ms < this.value) this.value = Math.max(this.value - WAKE_STEP_MS, 0);
  }
}

export class WaitPolicy {
  readonly wakeLatency = new WakeLatency();

  constructor(
    /** `spinUs` in ms. */
    readonly spinMs: number,
    /** Whether epoll_pwait2 (ns timeouts) is there; else timeouts are whole ms. */
    readonly usePwait2: boolean,
  ) {}

  /** How long before a timer the alarm rings (ms): spinUs plus the learnt wake-up latency. */
  get leadMs(): number {
    return this.spinMs + this.wakeLatency.value;
  }

  /**
   * The timeout (ms) of the next wait at `now`, towards a timer due at `deadline` (−1: none):
   * 0 with `work` to do; −1 with no timer; else until `leadMs` before the deadline, rounded up
   * (to the ns with epoll_pwait2, to the ms without), at most INT_MAX; 0 — poll, do not sleep —
   * when that is less than MIN_SLEEP_MS (with spinUs > 0).
   */
  timeout(now: number, deadline: number, work: boolean): number {
    if (work) return 0;
    if (deadline < 0) return -1;
    const ms = deadline - this.leadMs - now;
    if (ms <= 0 || (this.spinMs > 0 && ms <= MIN_SLEEP_MS)) return 0;
    if (ms >= INT_MAX) return INT_MAX;
    return this.usePwait2 ? Math.ceil(ms * 1e6) / 1e6 : Math.ceil(ms);
  }

  /**
   * The deadline to poll towards when a timer is all there is to wait for and spinUs > 0; else
   * −1. Callers poll only when `timeout()` says not to sleep.
   */
  spinUntil(now: number, deadline: number, work: boolean): number {
    if (this.spinMs === 0 || work) return -1;
    return deadline > now ? deadline : -1;
  }

  /** The instant to arm the alarm at for a sleep towards `deadline` (ms). */
  alarmFor(deadline: number): number {
    return deadline - this.leadMs;
  }

  /**
   * Attached: the earliest instant Node's loop must wake us at (ms), −1 for never, 0 for now:
   * `leadMs` before the timer (the turn then polls through the rest), and PRE_WAKE_MS before
   * that if Node would otherwise sleep long until then.
   */
  wakeAt(now: number, deadline: number, work: boolean): number {
    if (work) return 0;
    if (deadline < 0) return -1;
    const at = deadline - this.leadMs;
    const ms = at - now;
    return this.spinMs > 0 && ms > PRE_WAKE_MS + MIN_SLEEP_MS && ms < PRE_WAKE_MAX_MS ? at - PRE_WAKE_MS : at;
  }

  /** The alarm armed for `at` rang, and the loop runs at `now`, after a wait that began at `waitStart`. */
  alarmRang(at: number, waitStart: number, now: number): void {
    if (at < waitStart || this.spinMs === 0) return;
    this.wakeLatency.sample(now - at);
  }
}
