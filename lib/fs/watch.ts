/**
 * `fs.watch` on the reactor, over inotify(7): `watch(path, options?, listener?)` returns a
 * watcher emitting `'change'` with `(eventType, filename)` as Node's `fs.FSWatcher` does —
 * `'change'` for a write or an attribute change (IN_MODIFY, IN_ATTRIB), `'rename'` for anything
 * else (a name created, deleted or moved, the watched path itself deleted or moved), the same
 * mapping libuv makes.
 *
 * One inotify fd per loop, in its epoll set like any other fd; every watcher of the loop shares
 * it (the kernel gives one watch descriptor per watched inode, so two watchers of one path share
 * a wd, and the last one to close removes it). When the fd turns readable the loop reads every
 * queued event and parses the `struct inotify_event` records here.
 *
 * Bursts are coalesced: within one read (one loop iteration) a watcher's events with the same
 * (eventType, filename) are emitted once, in the order each first appeared; with
 * `{ coalesceMs: N }` a watcher gathers the events of N ms from the first one, then emits them
 * once each. (Node emits every event; a save in an editor is often five or more of them.)
 *
 * Regular files are watched here, never polled: epoll refuses a regular file's fd itself (EPERM,
 * shown in docs/files.md), but inotify's fd is a queue of events, which epoll can wait on.
 */
import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { invalidArgType } from '../errors';
import { loop as defaultLoop, type Loop } from '../reactor/index';
import type { Timer } from '../reactor/timer';
import type { Watcher } from '../reactor/watcher';
import * as sys from '../sys/index';

/** 'change' (contents or attributes) or 'rename' (a name appeared, went, or moved). */
export type WatchEventType = 'change' | 'rename';
export type WatchListener = (eventType: WatchEventType, filename: string | Buffer | null) => void;

export interface WatchOptions {
  /** Keep the loop (and so the process) alive while watching. Default true. */
  persistent?: boolean;
  /** Not supported on this reactor (inotify watches one directory level): false only. */
  recursive?: boolean;
  /** How `filename` is given: 'utf8' (default) or any Buffer encoding, or 'buffer'. */
  encoding?: BufferEncoding | 'buffer';
  /** Closes the watcher when aborted. */
  signal?: AbortSignal;
  /** Gather a burst for this many ms before emitting it, each (eventType, filename) once. Default 0: per read. */
  coalesceMs?: number;
  /** The loop to watch on. Default: the default loop. */
  loop?: Loop;
}

// What libuv asks inotify for (uv_fs_event_start): every change of a name or of the contents.
const MASK =
  sys.IN_ATTRIB | sys.IN_CREATE | sys.IN_MODIFY | sys.IN_DELETE | sys.IN_DELETE_SELF | sys.IN_MOVE_SELF | sys.IN_MOVED_FROM | sys.IN_MOVED_TO;
const CHANGE = sys.IN_ATTRIB | sys.IN_MODIFY;
const HEADER = 16; // struct inotify_event: int wd; uint32_t mask, cookie, len; char name[len]

function propertyType(name: string, expected: string, got: unknown): TypeError {
  const e = invalidArgType(name, expected, got);
  e.message = e.message.replace('argument', 'property');
  return e;
}

/** The watcher `watch()` returns, shaped like Node's `fs.FSWatcher`. */
export class FSWatcher extends EventEmitter {
  #closed = false;
  #pending: Array<[WatchEventType, string]> = [];
  #timer: Timer | null = null;
  #refed: boolean;

  /** @internal */
  constructor(
    private readonly instance: LoopInotify,
    /** @internal */ readonly wd: number,
    private readonly selfName: string,
    private readonly encoding: BufferEncoding | 'buffer',
    private readonly coalesceMs: number,
    persistent: boolean,
  ) {
    super();
    this.#refed = persistent;
  }

  /** Stop watching; `'close'` follows on the next tick, as Node's. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.close();
    this.#timer = null;
    this.#pending.length = 0;
    this.instance.remove(this);
    process.nextTick(() => this.emit('close'));
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Keep the loop alive while this watcher is open (the default unless `persistent: false`). */
  ref(): this {
    this.#refed = true;
    this.instance.update();
    return this;
  }

  /** Do not keep the loop alive for this watcher. */
  unref(): this {
    this.#refed = false;
    this.instance.update();
    return this;
  }

  hasRef(): boolean {
    return this.#refed && !this.#closed;
  }

  /** @internal One event for this watcher (name: the entry's, or '' for the watched path itself). */
  queue(mask: number, name: string): void {
    if (this.#closed) return;
    const type: WatchEventType = (mask & ~CHANGE) !== 0 ? 'rename' : 'change';
    const filename = name === '' ? this.selfName : name;
    if (!this.#pending.some(([t, f]) => t === type && f === filename)) this.#pending.push([type, filename]);
    if (this.coalesceMs > 0 && this.#timer === null) {
      this.#timer = this.instance.loop.setTimeout(() => {
        this.#timer = null;
        this.flush();
      }, this.coalesceMs);
      if (!this.#refed) this.#timer.unref();
    }
  }

  /** @internal The end of a read: emit what was gathered (unless a coalescing window is open). */
  endOfRead(): void {
    if (this.#timer === null) this.flush();
  }

  private flush(): void {
    const events = this.#pending;
    this.#pending = [];
    for (const [type, name] of events) {
      if (this.#closed) return;
      const filename = this.encoding === 'buffer' ? Buffer.from(name) : this.encoding === 'utf8' ? name : Buffer.from(name).toString(this.encoding);
      this.emit('change', type, filename);
    }
  }

  /** @internal Events were lost (IN_Q_OVERFLOW): say something changed, without a name. */
  overflow(): void {
    if (this.#closed) return;
    this.emit('change', 'rename', null);
  }
}

/** Per loop: the inotify fd, its epoll watcher and the FSWatchers by watch descriptor. */
class LoopInotify {
  readonly byWd = new Map<number, Set<FSWatcher>>();
  /** Watchers whose watch the kernel dropped (IN_IGNORED: the path went): open, but deaf. */
  readonly orphans = new Set<FSWatcher>();
  private readonly watcher: Watcher;
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);

  constructor(
    readonly loop: Loop,
    readonly fd: number,
  ) {
    this.watcher = loop.watch(fd, sys.EPOLLIN, () => this.onReadable());
    // `loop.close({ force: true })`: the inotify fd is ours, so it goes too.
    this.watcher.onLoopClose = () => this.dispose();
  }

  add(path: string, selfName: string, options: Required<Omit<WatchOptions, 'signal' | 'loop' | 'recursive'>>): FSWatcher {
    let wd: number;
    try {
      wd = sys.inotify_add_watch(this.fd, path, MASK);
    } catch (e) {
      throw watchError(e as NodeJS.ErrnoException, path);
    }
    const w = new FSWatcher(this, wd, selfName, options.encoding, options.coalesceMs, options.persistent);
    let set = this.byWd.get(wd);
    if (set === undefined) this.byWd.set(wd, (set = new Set()));
    set.add(w);
    this.update();
    return w;
  }

  remove(w: FSWatcher): void {
    const set = this.byWd.get(w.wd);
    if (this.orphans.delete(w)) {
      // its watch is gone already
    } else if (set === undefined || !set.delete(w)) return;
    else if (set.size === 0) {
      this.byWd.delete(w.wd);
      try {
        sys.inotify_rm_watch(this.fd, w.wd);
      } catch {
        // EINVAL: the kernel removed it already (the path was deleted: IN_IGNORED is queued)
      }
    }
    if (this.byWd.size === 0 && this.orphans.size === 0) this.dispose();
    else this.update();
  }

  // The loop is kept alive while a ref'd watcher is open.
  update(): void {
    let refed = false;
    for (const set of this.byWd.values()) for (const w of set) if (w.hasRef()) refed = true;
    for (const w of this.orphans) if (w.hasRef()) refed = true;
    if (refed) this.watcher.ref();
    else this.watcher.unref();
  }

  dispose(): void {
    if (instances.get(this.loop) !== this) return;
    instances.delete(this.loop);
    this.watcher.close();
    sys.close(this.fd);
  }

  private onReadable(): void {
    const touched = new Set<FSWatcher>();
    for (;;) {
      const n = sys.read(this.fd, this.buffer);
      if (n <= 0) break; // -EAGAIN: all read
      for (let off = 0; off + HEADER <= n; ) {
        const wd = this.buffer.readInt32LE(off);
        const mask = this.buffer.readUInt32LE(off + 4);
        const len = this.buffer.readUInt32LE(off + 12);
        const end = this.buffer.indexOf(0, off + HEADER);
        const name = len === 0 ? '' : this.buffer.toString('utf8', off + HEADER, end < 0 || end > off + HEADER + len ? off + HEADER + len : end);
        off += HEADER + len;
        if (mask & sys.IN_Q_OVERFLOW) {
          for (const set of this.byWd.values()) for (const w of set) w.overflow();
          continue;
        }
        const set = this.byWd.get(wd);
        if (set === undefined) continue;
        if (mask & sys.IN_IGNORED) {
          // The kernel dropped the watch (the path was deleted or its filesystem unmounted):
          // the watchers stay open, as Node's do, but will hear nothing more.
          this.byWd.delete(wd);
          for (const w of set) this.orphans.add(w);
          continue;
        }
        for (const w of set) {
          w.queue(mask, name);
          touched.add(w);
        }
      }
    }
    for (const w of touched) w.endOfRead();
  }
}

const instances = new Map<Loop, LoopInotify>();

function watchError(e: NodeJS.ErrnoException, path: string): Error {
  if (typeof e.errno !== 'number') return e;
  // Node's shape: "ENOENT: no such file or directory, watch 'PATH'", syscall 'watch', path.
  const err = sys.makeSystemError(Math.abs(e.errno), 'watch') as unknown as NodeJS.ErrnoException & { filename: string };
  err.message = `${err.message} '${path}'`;
  err.path = path;
  err.filename = path;
  return err;
}

function pathOf(path: unknown): string {
  if (typeof path === 'string') return path;
  if (Buffer.isBuffer(path)) return path.toString();
  if (path instanceof URL) return fileURLToPath(path);
  throw invalidArgType('path', 'of type string or an instance of Buffer or URL', path);
}

/**
 * Watch `path` (a file or a directory, one level) for changes, as Node's `fs.watch`:
 * `watch(path, listener)`, `watch(path, options, listener)`, `watch(path, 'buffer')`.
 * A missing path throws Node's error (`ENOENT: no such file or directory, watch 'PATH'`).
 */
export function watch(path: string | Buffer | URL, listener?: WatchListener): FSWatcher;
export function watch(path: string | Buffer | URL, options: WatchOptions | BufferEncoding | 'buffer' | undefined, listener?: WatchListener): FSWatcher;
export function watch(path: string | Buffer | URL, a?: unknown, b?: unknown): FSWatcher {
  const file = pathOf(path);
  let options: WatchOptions = {};
  let listener: unknown = b;
  if (typeof a === 'function') listener = a;
  else if (typeof a === 'string') options = { encoding: a as BufferEncoding };
  else if (a !== undefined && a !== null) {
    if (typeof a !== 'object') throw invalidArgType('options', 'of type object', a);
    options = a as WatchOptions;
  }
  if (listener !== undefined && typeof listener !== 'function') throw invalidArgType('listener', 'of type function', listener);
  const recursive = options.recursive ?? false;
  if (typeof recursive !== 'boolean') throw propertyType('options.recursive', 'of type boolean', recursive);
  if (recursive) {
    const e = new TypeError('The feature watch recursively is unavailable on the current platform, which is being used to run Node.js') as TypeError & { code: string };
    e.code = 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM';
    throw e;
  }
  const persistent = options.persistent ?? true;
  if (typeof persistent !== 'boolean') throw propertyType('options.persistent', 'of type boolean', persistent);
  const encoding = options.encoding ?? 'utf8';
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) {
    const e = new TypeError(`The argument 'encoding' is invalid encoding. Received '${String(encoding)}'`) as TypeError & { code: string };
    e.code = 'ERR_INVALID_ARG_VALUE';
    throw e;
  }
  const coalesceMs = options.coalesceMs ?? 0;
  if (typeof coalesceMs !== 'number' || !Number.isFinite(coalesceMs) || coalesceMs < 0) {
    throw propertyType('options.coalesceMs', 'a finite number ≥ 0', coalesceMs);
  }
  const signal = options.signal;
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw propertyType('options.signal', 'an instance of AbortSignal', signal);
  }
  const loop = options.loop ?? defaultLoop;
  let instance = instances.get(loop);
  const created = instance === undefined;
  if (instance === undefined) {
    instance = new LoopInotify(loop, sys.inotify_init1(sys.IN_NONBLOCK));
    instances.set(loop, instance);
  }
  let w: FSWatcher;
  try {
    w = instance.add(file, basename(file), { persistent, encoding, coalesceMs });
  } catch (e) {
    if (created) instance.dispose();
    throw e;
  }
  if (listener !== undefined) w.on('change', listener as WatchListener);
  if (signal !== undefined) {
    if (signal.aborted) process.nextTick(() => w.close());
    else {
      const onAbort = () => w.close();
      signal.addEventListener('abort', onAbort, { once: true });
      w.once('close', () => signal.removeEventListener('abort', onAbort));
    }
  }
  return w;
}
