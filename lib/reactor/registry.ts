/**
 * The watcher registry: which registration each epoll event belongs to.
 *
 * An event carries a 32-bit token, not an fd: `(generation << SLOT_BITS) | slot`. An fd number is
 * reused as soon as it is closed, and a batch of events may still hold one for the old owner;
 * tokens make such a stale event miss (its slot's generation has moved on), and a slot freed
 * during a batch is not reused until the batch is over.
 */
import { invalidArgType, LoopError, outOfRange } from '../errors';
import * as sys from '../sys/index';
import type { RefCounter } from './handle';
import type { StreamOwner } from './stream-batch';
import { type WatchCallback, Watcher, type WatcherOwner } from './watcher';

const { epoll_ctl, EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL } = sys;

/** Tokens are (generation << SLOT_BITS) | slot: up to 2^20 watchers, 2^12 generations a slot. */
const SLOT_BITS = 20;
export const SLOT_MASK = (1 << SLOT_BITS) - 1;
const GENERATIONS = 1 << (32 - SLOT_BITS);
const INT_MAX = 2 ** 31 - 1;

export class Registry implements WatcherOwner {
  /** The watcher of each slot (indexed by `token & SLOT_MASK`). */
  readonly slots: (Watcher | undefined)[] = [];
  private readonly generations: number[] = [];
  private readonly freeSlots: number[] = [];
  /** Slots released while a batch is being dispatched: reused only after it. */
  private readonly releasedInBatch: number[] = [];
  private readonly byFd: (Watcher | undefined)[] = [];
  /** Open watchers, the loop's own included. */
  count = 0;
  /** Open watchers of the loop's own (its alarm, Node's epoll fd). */
  internalCount = 0;
  /** Open watchers of streams (their reads are batched). */
  streams = 0;
  /** Events of the loop's own watchers in the current turn. */
  internalEvents = 0;
  /** True while a batch of events is dispatched. */
  dispatching = false;

  constructor(
    /** The epoll fd; −1 once the loop is closed (a watcher closed after it only forgets). */
    public epfd: number,
    private readonly refs: RefCounter,
  ) {}

  addRefs(delta: number): void {
    this.refs.addRefs(delta);
  }

  /**
   * See Loop.watch. An `internal` watcher is the loop's own: it does not keep the loop alive and
   * its events are not counted as the user's I/O.
   */
  watch(fd: number, interest: number, callback: WatchCallback, internal = false): Watcher {
    if (typeof fd !== 'number') throw invalidArgType('fd', 'of type number', fd);
    if (!Number.isInteger(fd) || fd < 0 || fd > INT_MAX) throw outOfRange('fd', 'an integer >= 0', fd);
    checkInterest(interest);
    if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
    const slot = this.allocateSlot();
    const token = (((this.generations[slot] ?? 0) << SLOT_BITS) | slot) >>> 0;
    // The kernel says EEXIST if fd is already in our set; that is the "watched twice" error.
    try {
      epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, interest, token);
    } catch (e) {
      this.freeSlots.push(slot);
      throw e;
    }
    const w = new Watcher(this, fd, interest, callback, token);
    const previous = this.byFd[fd];
    // ADD succeeded although a live watcher had this fd number: its fd was closed without
    // closing the watcher and the number was reused. It must never touch this registration.
    if (previous !== undefined) previous.orphaned = true;
    this.byFd[fd] = w;
    this.slots[slot] = w;
    this.count++;
    if (internal) {
      w.internal = true;
      w.refed = false;
      this.internalCount++;
    }
    w.activate();
    return w;
  }

  /** The open watcher an event's token names, or undefined for a stale event. */
  lookup(token: number): Watcher | undefined {
    const w = this.slots[token & SLOT_MASK];
    return w === undefined || w.token !== token || w.removed ? undefined : w;
  }

  /** Make `w` a stream watcher: the loop reads it in the iteration's batch read. */
  setStream(w: Watcher, owner: StreamOwner): void {
    if (w.stream === null && !w.removed) this.streams++;
    w.stream = owner;
  }

  modifyWatcher(w: Watcher, interest: number): void {
    if (w.removed || w.orphaned) {
      throw new LoopError('ERR_WATCHER_CLOSED', `watcher for fd ${w.fd} is closed`);
    }
    checkInterest(interest);
    epoll_ctl(this.epfd, EPOLL_CTL_MOD, w.fd, interest, w.token);
    w.interest = interest;
  }

  closeWatcher(w: Watcher): void {
    if (w.removed) return;
    w.removed = true;
    this.count--;
    if (w.internal) this.internalCount--;
    if (w.stream !== null) this.streams--;
    w.deactivate();
    const slot = w.token & SLOT_MASK;
    this.slots[slot] = undefined;
    this.generations[slot] = ((this.generations[slot] ?? 0) + 1) % GENERATIONS;
    if (this.dispatching) this.releasedInBatch.push(slot);
    else this.freeSlots.push(slot);
    if (w.orphaned || this.byFd[w.fd] !== w) return;
    this.byFd[w.fd] = undefined;
    if (this.epfd < 0) return;
    try {
      epoll_ctl(this.epfd, EPOLL_CTL_DEL, w.fd);
    } catch (e) {
      // The user closed the fd first (EBADF), or closed it and the number now names another
      // file that is not in our set (ENOENT): the kernel already dropped the registration.
      if (!sys.isSystemError(e, 'EBADF') && !sys.isSystemError(e, 'ENOENT')) throw e;
    }
  }

  /** After a batch: the slots it released may be reused. */
  endBatch(): void {
    const released = this.releasedInBatch;
    for (let slot = released.pop(); slot !== undefined; slot = released.pop()) this.freeSlots.push(slot);
  }

  private allocateSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.slots.length;
    if (slot > SLOT_MASK) throw new RangeError(`too many watchers on one loop (max ${SLOT_MASK + 1})`);
    this.slots.push(undefined);
    this.generations.push(0);
    return slot;
  }
}

function checkInterest(interest: unknown): void {
  if (typeof interest !== 'number') throw invalidArgType('interest', 'of type number', interest);
  if (!Number.isInteger(interest) || interest < -(2 ** 31) || interest > 2 ** 32 - 1) {
    throw outOfRange('interest', 'an epoll event mask (a 32-bit integer)', interest);
  }
}
