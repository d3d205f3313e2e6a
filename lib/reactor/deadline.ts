/**
 * The loop's alarm clock: one timerfd in the loop's own epoll set, armed at the next instant the
 * loop must wake (CLOCK_MONOTONIC, TFD_TIMER_ABSTIME).
 *
 * Why a timerfd even when the loop sleeps in its own epoll_pwait2 with a timeout: the kernel
 * ends an epoll timeout with up to the thread's timer slack of delay (50 µs by default) so that
 * it can batch wake-ups, while a timerfd expiry is exact; on this kind of machine that is the
 * difference between ~100 µs and ~50 µs of median lateness. Inside Node's loop (the attached
 * driver) it is the only way our timers can wake Node at all. It is re-armed only when the
 * instant changes; its expirations are read (and so cleared) when they arrive.
 *
 * A wake-up is never instant, though: from the alarm's expiry to JavaScript running again takes
 * ~35–45 µs at the median on the 2-vCPU VM of docs/benchmarks.md (the plain C timer loop's
 * median lateness), while `spinUs` (50 by default) is the margin the loop gives itself. So the
 * loop learns its own wake-up latency (WakeLatency, below) and rings the alarm that much
 * earlier: the poll then starts about spinUs before the deadline, not spinUs minus a wake-up.
 */
import * as sys from '../sys/index';
import type { Loop } from './loop';
import type { Watcher } from './watcher';

/**
 * Upper bound of the learned wake-up latency (ms). Past it the machine is too loaded for
 * microsecond timers anyway, and (attached to a busy Node) a wake-up that waited for Node's own
 * callbacks must not teach the loop to wake Node, and poll inside it, ever earlier.
 */
export const MAX_WAKE_LATENCY_MS = 0.2;
/**
 * The farthest alarm (ms of CLOCK_MONOTONIC): ~285 years of uptime, under the 2^63 ns a
 * timerfd takes.
 */
const MAX_ALARM_MS = 9e12;
/** How far one wake-up moves the estimate (ms): 1 µs. */
const WAKE_STEP_MS = 0.001;

/**
 * The median of the loop's wake-up latencies (alarm expiry → the loop running), in ms, as a
 * frugal streaming estimate (Ma, Muthukrishnan, Sandler, "Frugal Streaming for Estimating
 * Quantiles", 2013): each sample above the estimate raises it by 1 µs, each one below lowers it
 * by 1 µs — one comparison, no memory, no allocation, and outliers (a wake-up that waited for a
 * preempted vCPU, or attached, for Node's own callbacks) move it no further than any other
 * sample. Starting at 0 (no advance), it reaches a typical ~40 µs after a few dozen sleeps.
 * The median, not a high quantile: the alarm rings this much early and the loop polls through
 * the rest, so the CPU a timer costs stays about spinUs, while a wake-up up to spinUs slower
 * than the median is still on time. Linux's KVM tunes its guest timer advance the same way
 * (`lapic_timer_advance_ns`).
 */
export class WakeLatency {
  /** The estimate (ms), 0 to MAX_WAKE_LATENCY_MS. */
  value = 0;

  sample(ms: number): void {
    if (ms > this.value) this.value = Math.min(this.value + WAKE_STEP_MS, MAX_WAKE_LATENCY_MS);
    else if (ms < this.value) this.value = Math.max(this.value - WAKE_STEP_MS, 0);
  }
}

export class DeadlineTimer {
  readonly fd: number;
  private readonly watcher: Watcher;
  /** The instant armed (ms), −1 when disarmed. */
  private armed = -1;
  private readonly spec = { value: 0, interval: 0 };

  constructor(private readonly loop: Loop) {
    this.fd = sys.timerfd_create(sys.CLOCK_MONOTONIC, sys.TFD_NONBLOCK);
    try {
      this.watcher = loop.watch(this.fd, sys.EPOLLIN, this.onExpired).unref();
    } catch (e) {
      sys.close(this.fd);
      throw e;
    }
    this.watcher._internal = true;
  }

  private readonly onExpired = (): void => {
    sys.timerfd_read(this.fd); // clear its readiness; the timers phase does the work
    if (this.armed > 0) this.loop._alarmRang(this.armed);
    this.armed = -1;
  };

  /** Arm for `deadline` (ms; 0 = at once, −1 = disarm), unless that is what is armed. */
  arm(deadline: number): void {
    // A timer of Infinity (or of 1e300 ms) is a deadline no alarm can hold: ring at the
    // farthest instant one can, which no process lives to see (issue #20).
    if (!(deadline <= MAX_ALARM_MS)) deadline = MAX_ALARM_MS;
    if (deadline === this.armed) return;
    // Absolute CLOCK_MONOTONIC nanoseconds; 1 ns is long past, so "at once" fires at once.
    const spec = this.spec; // reused: one object fewer per sleep
    spec.value = deadline < 0 ? 0 : deadline === 0 ? 1 : Math.ceil(deadline * 1e6);
    sys.timerfd_settime(this.fd, sys.TFD_TIMER_ABSTIME, spec);
    this.armed = deadline; // only once it is: a failed arm is tried again
  }

  get closed(): boolean {
    return this.watcher.closed;
  }

  close(): void {
    this.watcher.close();
    try {
      sys.close(this.fd);
    } catch (e) {
      // Closed behind the loop's back: the number is released either way, and the loop's
      // own epoll fd must still be closed after this.
      if (!sys.isSystemError(e, 'EBADF')) throw e;
    }
  }
}
