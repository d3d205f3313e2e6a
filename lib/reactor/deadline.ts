/**
 * The loop's alarm clock: one timerfd in the loop's own epoll set, armed at the next instant the
 * loop must wake (CLOCK_MONOTONIC, TFD_TIMER_ABSTIME).
 *
 * Why a timerfd even when the loop sleeps in its own epoll_pwait2 with a timeout: the kernel may
 * end an epoll timeout up to the thread's timer slack late (50 µs by default) to batch wake-ups,
 * while a timerfd expiry is exact; and attached to Node's loop it is the only way our timers can
 * wake Node at all (docs/decisions/009-timerfd-alarm.md). It is re-armed only when the instant
 * changes; its expirations are read (and so cleared) when they arrive.
 */
import * as sys from '../sys/index';
import type { Registry } from './registry';
import type { Watcher } from './watcher';

/**
 * The farthest alarm (ms of CLOCK_MONOTONIC): ~285 years of uptime, under the 2^63 ns a
 * timerfd takes. A timer of Infinity (or of 1e300 ms) rings here, which no process lives to see.
 */
const MAX_ALARM_MS = 9e12;

export class DeadlineTimer {
  readonly fd: number;
  private readonly watcher: Watcher;
  /** The instant armed (ms), −1 when disarmed. */
  private armed = -1;
  private readonly spec = { value: 0, interval: 0 };

  /** `onRing(at)`: the alarm armed for `at` (ms) rang. */
  constructor(
    registry: Registry,
    private readonly onRing: (at: number) => void,
  ) {
    this.fd = sys.timerfd_create(sys.CLOCK_MONOTONIC, sys.TFD_NONBLOCK);
    try {
      sys.own_fd(this.fd);
      this.watcher = registry.watch(this.fd, sys.EPOLLIN, this.onExpired, true);
    } catch (e) {
      sys.close(this.fd);
      throw e;
    }
  }

  private readonly onExpired = (): void => {
    sys.timerfd_read(this.fd); // clear its readiness; the timers phase does the work
    if (this.armed > 0) this.onRing(this.armed);
    this.armed = -1;
  };

  /** Arm for `deadline` (ms; 0 = at once, −1 = disarm), unless that is what is armed. */
  arm(deadline: number): void {
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
      // Closed behind the loop's back: the number is released either way, and the loop's own
      // epoll fd must still be closed after this.
      if (!sys.isSystemError(e, 'EBADF')) throw e;
    }
  }
}
