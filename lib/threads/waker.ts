/**
 * A Waker: an eventfd that any thread may write to wake a loop (libuv's `uv_async_t`, mio's
 * `Waker`, asyncio's self-pipe), shared between threads by its {@link WakerHandle}.
 *
 * Why an eventfd: one fd, eight bytes of kernel state, and `write(fd, 1)` is safe from any
 * thread with no lock of ours. Wakes coalesce in the kernel: the counter sums them, and one read
 * returns the sum and clears it, so a thousand wakes before the loop looks cost it one callback.
 *
 * Sharing: fd numbers are process-wide, so the handle carries the number; the receiving thread
 * takes its own reference with `dup` (F_DUPFD_CLOEXEC) in {@link Waker.from}, and may close it
 * whenever it likes. The race to avoid is the owner closing the fd between the number's
 * arrival and the dup (the number might already name another file): the handle's
 * SharedArrayBuffer holds a `closed` flag and a count of dups under way, and the owner's
 * close() sets the flag, then waits for that count to fall to zero, before close(2).
 *
 * A thread that ends without closing its Wakers (worker.terminate() runs no JavaScript) has
 * them closed by its teardown (sys.own_fd), which cannot set the flag: so from() also checks
 * that what it dup'ed is an eventfd, and never writes to a number that now names another file.
 */
import { readlinkSync } from 'node:fs';
import { invalidArgType } from '../errors';
import { threadsError } from './errors';
import { loop as defaultLoop, type Loop, type Watcher } from '../reactor/index';
import * as sys from '../sys/index';

/** What a Waker is shared by: structured-cloneable (postMessage, workerData). */
export interface WakerHandle {
  readonly fd: number;
  /** Int32 words: [closed, dups under way]. */
  readonly state: SharedArrayBuffer;
}

const CLOSED = 0;
const DUPPING = 1;

/** Called in the listening loop with the number of wake() calls since the last callback. */
export type WakeCallback = (count: number) => void;

function onWakerEvents(_events: number, watcher: Watcher): void {
  (watcher.data as Waker)._onReadable();
}

function isHandle(h: unknown): h is WakerHandle {
  return (
    h !== null &&
    typeof h === 'object' &&
    Number.isInteger((h as WakerHandle).fd) &&
    (h as WakerHandle).fd >= 0 &&
    (h as WakerHandle).state instanceof SharedArrayBuffer &&
    (h as WakerHandle).state.byteLength >= 8
  );
}

/**
 * @example
 * ```ts
 * import { threads } from 'epoll-reactor';
 * const waker = new threads.Waker();
 * waker.listen(loop, (count) => console.log('woken', count));
 * new Worker('./w.js', { workerData: waker.handle });
 * // in w.js: threads.Waker.from(workerData).wake();
 * ```
 */
export class Waker {
  /** This thread's fd for the eventfd (the owner's, or this thread's dup). */
  readonly fd: number;
  /** Pass this to another thread; {@link Waker.from} there. */
  readonly handle: WakerHandle;
  /** True for the Waker that made the eventfd (its close() closes it for good). */
  readonly owner: boolean;
  private readonly state: Int32Array;
  private watcher: Watcher | null = null;
  private onWake: WakeCallback | null = null;
  private closedFlag = false;

  /**
   * A new eventfd (`EFD_NONBLOCK | EFD_CLOEXEC`), owned by this thread. (`_dup` is
   * {@link Waker.from}'s: this thread's dup of another Waker's eventfd.)
   */
  constructor(_dup?: { fd: number; handle: WakerHandle }) {
    if (_dup === undefined) {
      this.fd = sys.eventfd(0, sys.EFD_NONBLOCK);
      sys.own_fd(this.fd); // closed at this thread's teardown if close() was not called
      this.handle = { fd: this.fd, state: new SharedArrayBuffer(8) };
      this.owner = true;
    } else {
      // The handle still names the owner's fd: other threads dup from there too.
      this.fd = _dup.fd;
      this.handle = _dup.handle;
      this.owner = false;
    }
    this.state = new Int32Array(this.handle.state, 0, 2);
  }

  /**
   * This thread's Waker for `handle` (made by another thread, or this one): a dup of its eventfd,
   * closed by this Waker's close(). Throws ERR_WAKER_CLOSED if the owner has closed it.
   */
  static from(handle: WakerHandle): Waker {
    if (!isHandle(handle)) throw invalidArgType('handle', 'a WakerHandle ({ fd, state: SharedArrayBuffer })', handle);
    const state = new Int32Array(handle.state, 0, 2);
    Atomics.add(state, DUPPING, 1);
    try {
      if (Atomics.load(state, CLOSED) !== 0) throw wakerClosed();
      let fd: number;
      try {
        fd = sys.fcntl(handle.fd, sys.F_DUPFD_CLOEXEC, 0);
      } catch (e) {
        if (sys.isSystemError(e, 'EBADF')) throw wakerClosed();
        throw e;
      }
      // An owner whose thread was terminated never set CLOSED, and its teardown closed the
      // eventfd (sys.own_fd): the number may now name any file. Never write to a non-eventfd.
      if (!isEventfd(fd)) {
        sys.close(fd);
        throw wakerClosed();
      }
      sys.own_fd(fd);
      return new Waker({ fd, handle });
    } finally {
      Atomics.sub(state, DUPPING, 1);
      Atomics.notify(state, DUPPING);
    }
  }

  /** Wake the listening loop. Safe from any thread holding a Waker for this eventfd. */
  wake(): void {
    if (this.closedFlag) throw wakerClosed();
    // EAGAIN: the counter is at its maximum (2^64 − 2): the loop is woken already.
    sys.eventfd_write(this.fd, 1);
  }

  /**
   * Watch the eventfd in `loop` (default: the default loop) and call `onWake(count)` there
   * after each batch of wakes. One listener per Waker; the watcher is referenced (call unref()
   * for a loop that may end while nobody will wake it).
   */
  listen(loop: Loop | WakeCallback, onWake?: WakeCallback): this {
    if (typeof loop === 'function') return this.listen(defaultLoop, loop);
    if (typeof onWake !== 'function') throw invalidArgType('onWake', 'of type function', onWake);
    if (this.closedFlag) throw wakerClosed();
    if (this.watcher !== null) throw threadsError('ERR_WAKER_BUSY', 'this Waker is already listened to');
    this.onWake = onWake;
    this.watcher = loop.watch(this.fd, sys.EPOLLIN, onWakerEvents);
    this.watcher.data = this;
    return this;
  }

  /** Reads and clears the counter: the wakes since the last read (0 if none). */
  drain(): number {
    const n = sys.eventfd_read(this.fd);
    return n === sys.EAGAIN ? 0 : n;
  }

  /** @internal */
  _onReadable(): void {
    const n = this.drain();
    if (n > 0 && this.onWake !== null) this.onWake(n);
  }

  ref(): this {
    this.watcher?.ref();
    return this;
  }

  unref(): this {
    this.watcher?.unref();
    return this;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Stop listening and close this thread's fd. The owner's close also refuses new
   * {@link Waker.from} calls, waiting (spinning on the handle's SharedArrayBuffer) for any dup
   * under way to finish first. Other threads' dups stay valid until they close them. Idempotent.
   */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.owner) {
      Atomics.store(this.state, CLOSED, 1);
      for (let n = Atomics.load(this.state, DUPPING); n !== 0; n = Atomics.load(this.state, DUPPING)) {
        Atomics.wait(this.state, DUPPING, n, 1);
      }
    }
    sys.close(this.fd);
  }
}

function isEventfd(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventfd]';
  } catch {
    return false;
  }
}

function wakerClosed(): Error {
  return threadsError('ERR_WAKER_CLOSED', 'the Waker is closed');
}
