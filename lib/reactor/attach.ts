/**
 * The attached driver: our loop runs inside Node's own libuv loop.
 *
 * An epoll fd is itself pollable: it reads as ready when its ready list is non-empty. So libuv
 * watches our epoll fd with one `uv_poll_t` (nested epoll: Node's epoll set contains ours), and
 * when it turns readable we run one non-blocking turn (`epoll_wait(…, 0)`, then the phases). Our
 * timers must wake Node too: the loop's alarm timerfd (deadline.ts), which sits in our own epoll
 * set, is armed at the next instant the loop must run.
 *
 * The mirror image of the standalone driver (standalone.ts), where we sleep and Node's epoll fd
 * sits in our set. The native callback goes through napi_make_callback, so Node drains
 * process.nextTick and promise jobs after each turn, and what a turn throws surfaces as
 * 'uncaughtException'.
 */
import { type AttachHandle, native } from '../sys/native';
import { monotonicMs } from './clock';
import type { Driver, DriverHost } from './core';
import { spinTurn } from './wait';

export class AttachedDriver implements Driver {
  private readonly handle: AttachHandle;
  /** When the last turn ended: the time in between belongs to Node (asleep, or its own work). */
  private lastEnd = monotonicMs();
  private closed = false;

  constructor(
    private readonly host: DriverHost & { driver: Driver | null; alive(): boolean },
    /** After each turn (the loop detaches there if stop() was called inside it). */
    private readonly afterTurn: () => void,
  ) {
    this.handle = native.attach_start(host.epfd, this.onReadable);
    try {
      host.driver = this;
      this.setRef(host.alive());
      this.wake();
    } catch (e) {
      // A handle left running would keep turning a loop that believes it is detached, block
      // every later attach() (EEXIST), and outlive the epoll fd it polls (issue #20).
      this.close();
      throw e;
    }
  }

  /** libuv saw our epoll fd readable (or our alarm timerfd rang inside it): one turn. */
  private readonly onReadable = (): void => {
    try {
      this.turnOnce();
    } finally {
      this.lastEnd = monotonicMs();
      this.afterTurn();
      if (!this.closed) this.wake(this.lastEnd);
    }
  };

  /**
   * A non-blocking iteration; then, if it ran nothing of the user's and a timer is due within
   * the alarm's lead — the alarm rang that early — the poll through the rest of the stretch, as
   * standalone. Node's loop waits for it: about spinUs per timer, after its own callbacks,
   * nextTicks and promise jobs have run (they ran when the previous turn returned).
   */
  private turnOnce(): void {
    const host = this.host;
    if (!host.turn(0, this.lastEnd)) return;
    const now = monotonicMs();
    const until = host.spinDeadline(now); // −1 with spinUs 0, or work pending
    if (until > 0 && until - now <= host.leadMs()) spinTurn(host, until);
  }

  /** Arm the alarm for the loop's next wake-up instant (`now`: the clock, if just read). */
  wake(now?: number): void {
    this.host.armAlarm(this.host.wakeAt(now));
  }

  /** Whether we keep Node's loop (and the process) alive: uv_ref / uv_unref. */
  setRef(ref: boolean): void {
    native.attach_ref(this.handle, ref);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.host.driver === this) this.host.driver = null;
    native.attach_stop(this.handle);
  }
}
