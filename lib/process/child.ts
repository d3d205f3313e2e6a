/**
 * A child process on the reactor, shaped like Node's `ChildProcess`.
 *
 * - **Starting**: `posix_spawn(3)` with file actions (stdio, cwd), every signal reset to its
 *   default and an empty mask in the child, as libuv does after its fork.
 * - **Stdio**: each 'pipe' is a `socketpair(AF_UNIX, SOCK_STREAM)`, the child's end dup2'ed onto
 *   its fd, ours wrapped in our `net.Socket` (libuv makes socketpairs too; our sockets write
 *   with send(2), which a pipe would refuse with ENOTSOCK).
 * - **Exit**: a pidfd (`pidfd_open(2)`) in the loop's epoll set; readable once the child has
 *   exited, then `waitid(P_PIDFD, …, WEXITED | WNOHANG)` reaps exactly this child. No SIGCHLD
 *   handler, and never a wait on anybody else's child. See docs/processes.md.
 * - **Events** as Node's: 'spawn' (next tick), 'exit' (code, signal), 'close' once the exit is
 *   seen and stdout/stderr (every readable pipe) have closed; a spawn that fails with ENOENT,
 *   EACCES, EAGAIN, EMFILE or ENFILE emits 'error' then 'close' (negative errno, null), no
 *   'exit'.
 */
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { Socket } from '../net/index';
import { loop as defaultLoop, type Loop, type Timer, type Watcher } from '../reactor/index';
import * as sys from '../sys/index';
import { codedError, errnoError, type NetSystemError, signalName, validSignal } from './errors';
import { type Normalized, normalizeSpawnArguments, type SpawnOptions } from './options';

/** Spawn errors Node reports as an 'error' event rather than throwing (lib/internal/child_process.js). */
const RUNTIME_ERRORS = new Set(['EACCES', 'EAGAIN', 'EMFILE', 'ENFILE', 'ENOENT']);
/** Errors of one PATH entry after which execvp goes on to the next. */
const NEXT_ENTRY = new Set(['ENOENT', 'EACCES', 'ENOTDIR']);
/** execvp's default search path when the child's env has no PATH (paths.h _PATH_DEFPATH, as libuv). */
const DEFAULT_PATH = '/usr/bin:/bin';

/** An error a spawn reports: Node's ErrnoException plus the path and arguments. */
export interface SpawnError extends NetSystemError {
  path?: string;
  spawnargs?: string[];
}

/** The events of a ChildProcess, with their arguments. */
export interface ChildProcessEvents {
  spawn: [];
  exit: [code: number | null, signal: NodeJS.Signals | null];
  close: [code: number | null, signal: NodeJS.Signals | null];
  error: [error: Error];
}

function onPidfdReadable(_events: number, watcher: Watcher): void {
  (watcher.data as ChildProcess)._reap();
}

function closeOnLoopClose(watcher: Watcher): void {
  (watcher.data as ChildProcess)._closeHandle();
}

function sysErrno(e: unknown): number {
  if (sys.isSystemError(e)) return e.errno;
  throw e;
}

/**
 * @example
 * ```ts
 * import { childProcess } from 'epoll-reactor';
 * const child = childProcess.spawn('sh', ['-c', 'echo hello; exit 3']);
 * child.stdout!.setEncoding('utf8').on('data', (text) => console.log(text.trim()));
 * child.on('close', (code, signal) => console.log(code, signal)); // 3 null
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed events are declared in the interface below
export class ChildProcess extends EventEmitter {
  /** The child's pid; undefined when the spawn failed. */
  pid: number | undefined = undefined;
  /** The exit code once it has exited by itself (a negative errno when the spawn failed). */
  exitCode: number | null = null;
  /** The signal's name once a signal killed it. */
  signalCode: NodeJS.Signals | null = null;
  /** True once kill() has delivered a signal. */
  killed = false;
  /** No IPC channel: always false. */
  readonly connected = false;
  spawnfile: string | null = null;
  spawnargs: string[] = [];
  stdin: Socket | null = null;
  stdout: Socket | null = null;
  stderr: Socket | null = null;
  stdio: (Socket | null)[] = [];
  /** @internal The pidfd, −1 once reaped (or never opened). */
  _pidfd = -1;
  private watcher: Watcher | null = null;
  private closesNeeded = 1;
  private closesGot = 0;

  constructor(readonly loop: Loop = defaultLoop) {
    super();
  }

  /**
   * Send `signal` (default 'SIGTERM'; a name in any case or a number; 0 only checks) through the
   * pidfd. True when it was delivered; false when the child has been reaped already, or (with
   * an 'error' event) when the kernel refused; an unsupported signal throws, as in Node.
   */
  kill(signal?: NodeJS.Signals | number): boolean {
    const signum = signal === 0 ? 0 : validSignal(signal === undefined ? 'SIGTERM' : signal);
    if (this._pidfd >= 0) {
      try {
        sys.pidfd_send_signal(this._pidfd, signum);
        this.killed = true;
        return true;
      } catch (e) {
        const errno = sysErrno(e);
        const code = (e as NetSystemError).code;
        if (code === 'ESRCH') {
          // exited: the pidfd just has not been read yet
        } else if (code === 'EINVAL' || code === 'ENOSYS') {
          throw errnoError(errno, 'kill');
        } else {
          this.emit('error', errnoError(errno, 'kill'));
        }
      }
    }
    return false;
  }

  /** The child keeps the loop alive until it exits (the default). */
  ref(): void {
    this.watcher?.ref();
  }

  /** The loop may end while the child still runs (its stdio sockets still count, as in Node). */
  unref(): void {
    this.watcher?.unref();
  }

  [Symbol.dispose](): void {
    if (!this.killed) this.kill();
  }

  /** @internal Start the child (spawn() calls it once). */
  _spawn(n: Normalized): void {
    this.spawnfile = n.file;
    this.spawnargs = n.args;
    const count = n.stdio.length;
    const ours: number[] = new Array(count).fill(-1);
    const closeAfter: number[] = [];
    const actions: sys.SpawnFileAction[] = [];
    let pid = -1;
    let failure = 0;
    try {
      for (let i = 0; i < count; i++) {
        const s = n.stdio[i]!;
        let source: number;
        if (s.type === 'pipe') {
          const [a, b] = sys.socketpair(sys.AF_UNIX, sys.SOCK_STREAM);
          ours[i] = a;
          closeAfter.push(b);
          source = b;
        } else if (s.type === 'ignore') {
          // /dev/null for 0–2 (read-only for stdin), nothing above, as libuv's UV_IGNORE.
          if (i < 3) actions.push(['open', i, '/dev/null', i === 0 ? sys.O_RDONLY : sys.O_RDWR, 0]);
          continue;
        } else {
          source = s.fd;
          if (source === i && i < 3) continue; // inherited as it is
        }
        // A source below `count` could be overwritten by an earlier dup2 (stdio [2, 1] swaps):
        // move it above first, as libuv does. dup2 onto the target then clears close-on-exec.
        if (source < count) {
          source = sys.fcntl(source, sys.F_DUPFD_CLOEXEC, count);
          closeAfter.push(source);
        }
        actions.push(['dup2', source, i]);
      }
      if (n.cwd !== undefined) actions.push(['chdir', n.cwd]);
      pid = this.start(n, actions);
    } catch (e) {
      if (!sys.isSystemError(e)) {
        for (const fd of ours) if (fd >= 0) sys.close(fd); // closeAfter: in finally
        throw e;
      }
      failure = e.errno;
    } finally {
      for (const fd of closeAfter) sys.close(fd);
    }
    if (failure !== 0) {
      const code = errnoError(failure, 'spawn').code;
      if (!RUNTIME_ERRORS.has(code) || code === 'EMFILE' || code === 'ENFILE') {
        for (const fd of ours) if (fd >= 0) sys.close(fd);
        if (!RUNTIME_ERRORS.has(code)) throw errnoError(failure, 'spawn');
        process.nextTick(() => this._onexit(failure, null));
        return;
      }
      // ENOENT, EACCES, EAGAIN: stdio is set up all the same (Node's tests require it); the
      // child's ends are closed, so ours read EOF at once.
      process.nextTick(() => this._onexit(failure, null));
    } else {
      this.watch(pid);
      process.nextTick(() => this.emit('spawn'));
    }
    for (let i = 0; i < count; i++) {
      if (ours[i]! < 0) {
        this.stdio.push(null);
        continue;
      }
      const socket = new Socket(i === 0 ? { fd: ours[i], loop: this.loop, readable: false } : { fd: ours[i], loop: this.loop });
      if (i > 0) {
        this.closesNeeded++;
        socket.on('close', () => this.maybeClose());
      }
      this.stdio.push(socket);
    }
    this.stdin = this.stdio[0] ?? null;
    this.stdout = this.stdio[1] ?? null;
    this.stderr = this.stdio[2] ?? null;
  }

  /** posix_spawn, looking `file` up in the child's PATH as execvp would; the pid. */
  private start(n: Normalized, actions: sys.SpawnFileAction[]): number {
    const flags = sys.POSIX_SPAWN_SETSIGDEF | sys.POSIX_SPAWN_SETSIGMASK | (n.detached ? sys.POSIX_SPAWN_SETSID : 0);
    if (n.file.includes('/')) return sys.posix_spawn(n.file, n.args, n.envPairs, actions, flags);
    const path = typeof n.env.PATH === 'string' ? n.env.PATH : DEFAULT_PATH;
    let sawEacces = false;
    for (const dir of path.split(':')) {
      const candidate = dir === '' ? n.file : `${dir}/${n.file}`;
      try {
        // Relative entries are relative to the child's cwd. A cheap check first: one failed
        // posix_spawn per PATH entry would cost a clone each.
        accessSync(resolvePath(n.cwd ?? '.', candidate), fsConstants.X_OK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EACCES') sawEacces = true;
        continue;
      }
      try {
        return sys.posix_spawn(candidate, n.args, n.envPairs, actions, flags);
      } catch (e) {
        if (!sys.isSystemError(e) || !NEXT_ENTRY.has(e.code)) throw e;
        if (e.code === 'EACCES') sawEacces = true;
      }
    }
    throw sys.makeSystemError(sawEacces ? sys.errno.EACCES! : sys.errno.ENOENT!, 'posix_spawn');
  }

  /** The pidfd into the loop's epoll set; if it cannot be opened, the child is killed and reaped. */
  private watch(pid: number): void {
    this.pid = pid;
    try {
      this._pidfd = sys.pidfd_open(pid);
      this.watcher = this.loop.watch(this._pidfd, sys.EPOLLIN, onPidfdReadable);
    } catch (e) {
      if (this._pidfd >= 0) sys.close(this._pidfd);
      this._pidfd = -1;
      process.kill(pid, 'SIGKILL');
      sys.waitid(sys.P_PID, pid, sys.WEXITED);
      throw e;
    }
    this.watcher.data = this;
    this.watcher.onLoopClose = closeOnLoopClose;
  }

  /** @internal The pidfd turned readable: reap the child (or find it was a spurious wakeup). */
  _reap(): void {
    if (this._pidfd < 0) return;
    const st = sys.waitid(sys.P_PIDFD, this._pidfd, sys.WEXITED | sys.WNOHANG);
    if (st === null) return;
    this._closeHandle();
    if (st.code === sys.CLD_EXITED) this._onexit(st.status, null);
    else this._onexit(0, signalName(st.status) as NodeJS.Signals);
  }

  /** @internal EPOLL_CTL_DEL and close the pidfd (also when the loop is force-closed under a running child). */
  _closeHandle(): void {
    if (this.watcher !== null) {
      this.watcher.close();
      this.watcher = null;
    }
    if (this._pidfd >= 0) {
      sys.close(this._pidfd);
      this._pidfd = -1;
    }
  }

  /** @internal Node's onexit: a negative code is a failed spawn. */
  _onexit(exitCode: number, signalCode: NodeJS.Signals | null): void {
    if (signalCode) this.signalCode = signalCode;
    else this.exitCode = exitCode;
    this.stdin?.destroy();
    if (exitCode < 0) {
      const err = errnoError(exitCode, this.spawnfile ? `spawn ${this.spawnfile}` : 'spawn') as SpawnError;
      if (this.spawnfile) err.path = this.spawnfile;
      err.spawnargs = this.spawnargs.slice(1);
      this.emit('error', err);
    } else {
      this.emit('exit', this.exitCode, this.signalCode);
    }
    // Streams nobody reads are drained so that they end and close (Node does it next tick, a
    // last chance for the user to start reading after 'exit').
    process.nextTick(() => {
      for (const s of this.stdio) if (s?.readable) s.resume();
    });
    this.maybeClose();
  }

  private maybeClose(): void {
    this.closesGot++;
    if (this.closesGot === this.closesNeeded) this.emit('close', this.exitCode, this.signalCode);
  }
}

export interface ChildProcess {
  on<K extends keyof ChildProcessEvents>(event: K, listener: (...args: ChildProcessEvents[K]) => void): this;
  once<K extends keyof ChildProcessEvents>(event: K, listener: (...args: ChildProcessEvents[K]) => void): this;
  emit<K extends keyof ChildProcessEvents>(event: K, ...args: ChildProcessEvents[K]): boolean;
}

function abortError(cause: unknown): Error {
  const e = codedError('ABORT_ERR', 'The operation was aborted');
  e.name = 'AbortError';
  (e as Error & { cause: unknown }).cause = cause;
  return e;
}

/**
 * Node's `child_process.spawn(file, args?, options?)` on the reactor: see {@link ChildProcess}
 * and {@link SpawnOptions} (cwd, env, argv0, stdio, detached, shell, timeout, killSignal,
 * signal, and `loop`).
 */
export function spawn(file: string, options?: SpawnOptions): ChildProcess;
export function spawn(file: string, args?: readonly string[] | null, options?: SpawnOptions): ChildProcess;
export function spawn(file: string, args?: unknown, options?: unknown): ChildProcess {
  const n = normalizeSpawnArguments(file, args, options);
  const opts = (Array.isArray(args) || args == null ? options : args) as SpawnOptions | undefined;
  const child = new ChildProcess(opts?.loop ?? defaultLoop);
  child._spawn(n);
  if (n.timeout !== undefined && n.timeout > 0) {
    let timer: Timer | null = child.loop.setTimeout(() => {
      timer = null;
      try {
        child.kill(n.killSignal);
      } catch (err) {
        child.emit('error', err as Error);
      }
    }, n.timeout);
    child.once('exit', () => {
      if (timer !== null) child.loop.clearTimeout(timer);
      timer = null;
    });
  }
  const signal = n.signal;
  if (signal !== undefined) {
    const onAbort = (): void => {
      try {
        if (child.kill(n.killSignal)) child.emit('error', abortError(signal.reason));
      } catch (err) {
        child.emit('error', err as Error);
      }
    };
    if (signal.aborted) process.nextTick(onAbort);
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('exit', () => signal.removeEventListener('abort', onAbort));
    }
  }
  return child;
}
