/**
 * Process syscalls: `posix_spawn(3)`, `pidfd_open(2)`, `waitid(2)`, `pidfd_send_signal(2)` and
 * `socketpair(2)`, 1:1. lib/process builds Node's `child_process.spawn` on them.
 *
 * A pidfd is an fd for a process: it turns readable (EPOLLIN) when the process exits, so a
 * child's exit is one more fd in the epoll set, and `waitid(P_PIDFD, pidfd, WEXITED | WNOHANG)`
 * then reaps exactly that child — never another one of Node's. See docs/processes.md.
 *
 * @example
 * ```ts
 * import { sys } from 'epoll-reactor';
 * const [ours, theirs] = sys.socketpair(sys.AF_UNIX, sys.SOCK_STREAM);
 * const pid = sys.posix_spawn('/bin/sh', ['sh', '-c', 'echo hi; exit 3'], ['PATH=/usr/bin:/bin'],
 *   [['dup2', theirs, 1]], sys.POSIX_SPAWN_SETSIGDEF | sys.POSIX_SPAWN_SETSIGMASK);
 * sys.close(theirs);
 * const pidfd = sys.pidfd_open(pid);
 * sys.poll(new Int32Array([pidfd, sys.POLLIN, 0]), -1);        // readable: it has exited
 * const st = sys.waitid(sys.P_PIDFD, pidfd, sys.WEXITED | sys.WNOHANG);
 * // st: { pid, code: sys.CLD_EXITED, status: 3 }; 'hi\n' waits in `ours`
 * sys.close(pidfd);
 * sys.close(ours);
 * ```
 * @module
 */
import { constant, native } from './native';

/** posix_spawn attribute flag: every signal (glibc's internal 32 and 33 included) to its default action in the child. */
export const POSIX_SPAWN_SETSIGDEF: number = constant('POSIX_SPAWN_SETSIGDEF');
/** posix_spawn attribute flag: the child starts with an empty signal mask. */
export const POSIX_SPAWN_SETSIGMASK: number = constant('POSIX_SPAWN_SETSIGMASK');
/** posix_spawn attribute flag: the child leads a new process group. */
export const POSIX_SPAWN_SETPGROUP: number = constant('POSIX_SPAWN_SETPGROUP');
/** posix_spawn attribute flag: the child leads a new session (`setsid`). */
export const POSIX_SPAWN_SETSID: number = constant('POSIX_SPAWN_SETSID');
export const P_PID: number = constant('P_PID');
export const P_ALL: number = constant('P_ALL');
/** waitid's idtype for a pidfd (Linux ≥ 5.4). */
export const P_PIDFD: number = constant('P_PIDFD');
export const WEXITED: number = constant('WEXITED');
export const WNOHANG: number = constant('WNOHANG');
export const WNOWAIT: number = constant('WNOWAIT');
export const WSTOPPED: number = constant('WSTOPPED');
export const WCONTINUED: number = constant('WCONTINUED');
/** waitid's `code`: exited; `status` is the exit code. */
export const CLD_EXITED: number = constant('CLD_EXITED');
/** waitid's `code`: killed by a signal; `status` is the signal number. */
export const CLD_KILLED: number = constant('CLD_KILLED');
/** waitid's `code`: killed by a signal and dumped core; `status` is the signal number. */
export const CLD_DUMPED: number = constant('CLD_DUMPED');
export const CLD_STOPPED: number = constant('CLD_STOPPED');
export const CLD_CONTINUED: number = constant('CLD_CONTINUED');
/** pidfd_open flag: waitid on the pidfd returns EAGAIN instead of blocking. */
export const PIDFD_NONBLOCK: number = constant('PIDFD_NONBLOCK');
export const O_RDONLY: number = constant('O_RDONLY');
export const O_WRONLY: number = constant('O_WRONLY');
export const O_RDWR: number = constant('O_RDWR');

/**
 * One posix_spawn file action, run in the child in order before the exec:
 * `posix_spawn_file_actions_adddup2`, `…addclose`, `…addopen`, `…addchdir_np`.
 */
export type SpawnFileAction =
  | readonly ['dup2', fd: number, newfd: number]
  | readonly ['close', fd: number]
  | readonly ['open', fd: number, path: string, oflag: number, mode: number]
  | readonly ['chdir', path: string];

/** What waitid(2) found: `code` is `si_code` (CLD_*), `status` is `si_status`. */
export interface WaitStatus {
  pid: number;
  code: number;
  status: number;
}

/**
 * `int posix_spawn(pid_t *pid, const char *path, file_actions, attrp, char *argv[], char *envp[])`
 * → the child's pid. `path` is used as is (no PATH search); `argv[0]` is the program's name for
 * itself. `flags` are POSIX_SPAWN_* bits: with SETSIGDEF every signal is reset to its default
 * action (a signal ignored here, e.g. Node's SIGPIPE, would otherwise stay ignored in the
 * child), with SETSIGMASK the mask is empty. A failed exec or file action (ENOENT, EACCES, a
 * chdir to a missing directory) throws a SystemError with syscall `'posix_spawn'`; no child is
 * left behind. The fds this process created are close-on-exec: the child gets only those the
 * actions `dup2` onto other numbers (and 0–2 as they are here).
 * @function
 */
export const posix_spawn: (
  path: string,
  argv: readonly string[],
  envp: readonly string[],
  actions?: readonly SpawnFileAction[],
  flags?: number,
) => number = native.posix_spawn;
/** `int pidfd_open(pid_t pid, unsigned flags)` → a pidfd (close-on-exec), readable once the process exits. @function */
export const pidfd_open: (pid: number, flags?: number) => number = native.pidfd_open;
/** `int pidfd_send_signal(int pidfd, int sig, NULL, unsigned flags)`; ESRCH once the process has exited. @function */
export const pidfd_send_signal: (pidfd: number, sig: number, flags?: number) => void = native.pidfd_send_signal;
/**
 * `int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)` → `{ pid, code, status }`,
 * or `null` when `WNOHANG` found nothing to report yet. With `WEXITED` (and no `WNOWAIT`) the
 * child is reaped: its pid may then be reused.
 * @function
 */
export const waitid: (idtype: number, id: number, options: number) => WaitStatus | null = native.waitid;
/** `int socketpair(int domain, int type, int protocol, int sv[2])` → `[fd0, fd1]` (always `SOCK_CLOEXEC`). @function */
export const socketpair: (domain: number, type: number, protocol?: number) => [number, number] = native.socketpair;
