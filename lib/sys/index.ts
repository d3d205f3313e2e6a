/**
 * `sys`: the Linux syscalls the runtime stands on, one function each, named and shaped as in C.
 *
 * - Every fd these functions create is close-on-exec (`EPOLL_CLOEXEC`, `SOCK_CLOEXEC`, … are
 *   added for you): a child process never inherits our epoll set or sockets.
 * - A failing call throws an Error shaped like Node's SystemError:
 *   `EBADF: bad file descriptor, epoll_ctl`, with `code`, `errno` (negative, as Node does) and
 *   `syscall`. See {@link SystemError} and {@link isSystemError}.
 * - The would-block paths do **not** throw: `read`, `write`, `readv`, `writev`, `send`, `recv`,
 *   `sendmsg`, `accept4`, `timerfd_read` and `eventfd_read/write` return `-EAGAIN` (a negative
 *   number, {@link EAGAIN}); `connect` returns `-EINPROGRESS`. A result `>= 0` is success.
 * - `EINTR` is retried natively; `epoll_wait` and `epoll_pwait2` retry with the time left of the
 *   original timeout, not the whole timeout again.
 * - Wrong argument types throw `TypeError` (`code: 'ERR_INVALID_ARG_TYPE'`) and out-of-range
 *   values `RangeError` (`code: 'ERR_OUT_OF_RANGE'`), naming the argument, before any syscall.
 * - Wherever a buffer or a typed array goes, its whole ArrayBuffer may go instead (an
 *   `Int32Array`/`Uint32Array` argument then reads it as 32-bit words): it is the cheaper of the
 *   two for Node-API to look up (see {@link Bytes}), and the loop passes ArrayBuffers. A detached
 *   ArrayBuffer is empty.
 *
 * @example
 * ```ts
 * import { sys } from 'epoll-reactor';
 * const epfd = sys.epoll_create1();
 * const [r, w] = sys.pipe2(sys.O_NONBLOCK);
 * sys.epoll_ctl(epfd, sys.EPOLL_CTL_ADD, r, sys.EPOLLIN, 42);
 * sys.write(w, Buffer.from('x'));
 * const events = new Uint32Array(2 * 64);
 * const n = sys.epoll_wait(epfd, events, 1000); // 1: events[0] = EPOLLIN, events[1] = 42
 * for (const fd of [r, w, epfd]) sys.close(fd);
 * ```
 * @module
 */
import { invalidArgType, outOfRange } from '../errors';
import { constant, native } from './native';

export { addonPath } from './native';
export * from './process';
export * from './udp';

export type { AttachHandle, Bytes, SocketAddress, TimerSpec, TimerSpecIn, Words } from './native';

// ── Constants, from the C headers through the addon ────────────────────────────────────────
export const EPOLLIN: number = constant('EPOLLIN');
export const EPOLLOUT: number = constant('EPOLLOUT');
export const EPOLLRDHUP: number = constant('EPOLLRDHUP');
export const EPOLLPRI: number = constant('EPOLLPRI');
export const EPOLLERR: number = constant('EPOLLERR');
export const EPOLLHUP: number = constant('EPOLLHUP');
export const EPOLLET: number = constant('EPOLLET');
export const EPOLLONESHOT: number = constant('EPOLLONESHOT');
export const EPOLLEXCLUSIVE: number = constant('EPOLLEXCLUSIVE');
export const EPOLLWAKEUP: number = constant('EPOLLWAKEUP');
export const EPOLL_CTL_ADD: number = constant('EPOLL_CTL_ADD');
export const EPOLL_CTL_MOD: number = constant('EPOLL_CTL_MOD');
export const EPOLL_CTL_DEL: number = constant('EPOLL_CTL_DEL');
export const EPOLL_CLOEXEC: number = constant('EPOLL_CLOEXEC');
export const O_NONBLOCK: number = constant('O_NONBLOCK');
export const O_CLOEXEC: number = constant('O_CLOEXEC');
export const F_GETFL: number = constant('F_GETFL');
export const F_SETFL: number = constant('F_SETFL');
export const F_GETFD: number = constant('F_GETFD');
export const F_SETFD: number = constant('F_SETFD');
export const F_DUPFD_CLOEXEC: number = constant('F_DUPFD_CLOEXEC');
export const F_GETPIPE_SZ: number = constant('F_GETPIPE_SZ');
export const F_SETPIPE_SZ: number = constant('F_SETPIPE_SZ');
export const FD_CLOEXEC: number = constant('FD_CLOEXEC');
export const TFD_NONBLOCK: number = constant('TFD_NONBLOCK');
export const TFD_CLOEXEC: number = constant('TFD_CLOEXEC');
export const TFD_TIMER_ABSTIME: number = constant('TFD_TIMER_ABSTIME');
export const CLOCK_MONOTONIC: number = constant('CLOCK_MONOTONIC');
export const CLOCK_REALTIME: number = constant('CLOCK_REALTIME');
export const CLOCK_BOOTTIME: number = constant('CLOCK_BOOTTIME');
export const CLOCK_PROCESS_CPUTIME_ID: number = constant('CLOCK_PROCESS_CPUTIME_ID');
export const CLOCK_THREAD_CPUTIME_ID: number = constant('CLOCK_THREAD_CPUTIME_ID');
export const AF_INET: number = constant('AF_INET');
export const AF_INET6: number = constant('AF_INET6');
export const AF_UNIX: number = constant('AF_UNIX');
export const SOCK_STREAM: number = constant('SOCK_STREAM');
export const SOCK_DGRAM: number = constant('SOCK_DGRAM');
export const SOCK_NONBLOCK: number = constant('SOCK_NONBLOCK');
export const SOCK_CLOEXEC: number = constant('SOCK_CLOEXEC');
export const SOL_SOCKET: number = constant('SOL_SOCKET');
export const SO_REUSEADDR: number = constant('SO_REUSEADDR');
export const SO_REUSEPORT: number = constant('SO_REUSEPORT');
export const SO_ERROR: number = constant('SO_ERROR');
export const SO_KEEPALIVE: number = constant('SO_KEEPALIVE');
export const SO_RCVBUF: number = constant('SO_RCVBUF');
export const SO_SNDBUF: number = constant('SO_SNDBUF');
export const SO_LINGER: number = constant('SO_LINGER');
export const SO_DOMAIN: number = constant('SO_DOMAIN');
export const SO_TYPE: number = constant('SO_TYPE');
export const SO_ACCEPTCONN: number = constant('SO_ACCEPTCONN');
export const IPPROTO_TCP: number = constant('IPPROTO_TCP');
export const TCP_NODELAY: number = constant('TCP_NODELAY');
export const TCP_KEEPIDLE: number = constant('TCP_KEEPIDLE');
export const TCP_KEEPINTVL: number = constant('TCP_KEEPINTVL');
export const TCP_KEEPCNT: number = constant('TCP_KEEPCNT');
export const SHUT_RD: number = constant('SHUT_RD');
export const SHUT_WR: number = constant('SHUT_WR');
export const SHUT_RDWR: number = constant('SHUT_RDWR');
export const EFD_NONBLOCK: number = constant('EFD_NONBLOCK');
export const EFD_CLOEXEC: number = constant('EFD_CLOEXEC');
export const EFD_SEMAPHORE: number = constant('EFD_SEMAPHORE');
// inotify(7)
export const IN_NONBLOCK: number = constant('IN_NONBLOCK');
export const IN_CLOEXEC: number = constant('IN_CLOEXEC');
export const IN_ACCESS: number = constant('IN_ACCESS');
export const IN_MODIFY: number = constant('IN_MODIFY');
export const IN_ATTRIB: number = constant('IN_ATTRIB');
export const IN_CLOSE_WRITE: number = constant('IN_CLOSE_WRITE');
export const IN_CLOSE_NOWRITE: number = constant('IN_CLOSE_NOWRITE');
export const IN_OPEN: number = constant('IN_OPEN');
export const IN_MOVED_FROM: number = constant('IN_MOVED_FROM');
export const IN_MOVED_TO: number = constant('IN_MOVED_TO');
export const IN_CREATE: number = constant('IN_CREATE');
export const IN_DELETE: number = constant('IN_DELETE');
export const IN_DELETE_SELF: number = constant('IN_DELETE_SELF');
export const IN_MOVE_SELF: number = constant('IN_MOVE_SELF');
export const IN_UNMOUNT: number = constant('IN_UNMOUNT');
export const IN_Q_OVERFLOW: number = constant('IN_Q_OVERFLOW');
export const IN_IGNORED: number = constant('IN_IGNORED');
export const IN_ONLYDIR: number = constant('IN_ONLYDIR');
export const IN_DONT_FOLLOW: number = constant('IN_DONT_FOLLOW');
export const IN_EXCL_UNLINK: number = constant('IN_EXCL_UNLINK');
export const IN_MASK_ADD: number = constant('IN_MASK_ADD');
export const IN_ISDIR: number = constant('IN_ISDIR');
export const IN_ONESHOT: number = constant('IN_ONESHOT');
export const IN_ALL_EVENTS: number = constant('IN_ALL_EVENTS');
export const MSG_NOSIGNAL: number = constant('MSG_NOSIGNAL');
export const MSG_PEEK: number = constant('MSG_PEEK');
export const MSG_DONTWAIT: number = constant('MSG_DONTWAIT');
export const POLLIN: number = constant('POLLIN');
export const POLLOUT: number = constant('POLLOUT');
export const POLLPRI: number = constant('POLLPRI');
export const POLLERR: number = constant('POLLERR');
export const POLLHUP: number = constant('POLLHUP');
export const POLLNVAL: number = constant('POLLNVAL');
export const POLLRDHUP: number = constant('POLLRDHUP');
export const SOMAXCONN: number = constant('SOMAXCONN');

/** Every errno value by name, from `<errno.h>`: `sys.errno.EAGAIN === 11`. */
export const errno: Readonly<Record<string, number>> = Object.freeze({ ...native.errno });
/** The would-block sentinel returned by the hot-path calls: `-errno.EAGAIN`. */
export const EAGAIN: number = -(constant('EAGAIN', native.errno));
/** What `connect` returns while a non-blocking connect is under way: `-errno.EINPROGRESS`. */
export const EINPROGRESS: number = -(constant('EINPROGRESS', native.errno));

/** The shape of every error a failing syscall throws (Node's SystemError). */
export interface SystemError extends Error {
  /** Symbolic errno name, e.g. `'EBADF'`. */
  code: string;
  /** Negative errno, as in Node: `-9` for EBADF. */
  errno: number;
  /** The failing call, e.g. `'epoll_ctl'`. */
  syscall: string;
}

/**
 * The SystemError for a positive `errno` that arrived as a number (e.g. from `SO_ERROR`), built
 * by the same native helper as every thrown one: `makeSystemError(111, 'connect')` is
 * `ECONNREFUSED: connection refused, connect`.
 */
export function makeSystemError(errnoValue: number, syscall: string): SystemError {
  return native.makeSystemError(errnoValue, syscall) as SystemError;
}

/** True when `e` is an error thrown by a failing syscall (optionally: with this `code`). */
export function isSystemError(e: unknown, code?: string): e is SystemError {
  return (
    e instanceof Error &&
    typeof (e as SystemError).syscall === 'string' &&
    typeof (e as SystemError).errno === 'number' &&
    (code === undefined || (e as SystemError).code === code)
  );
}

// ── epoll ──────────────────────────────────────────────────────────────────────────────────
/** `int epoll_create1(int flags)` — a new epoll instance (always `EPOLL_CLOEXEC`). @function */
export const epoll_create1 = native.epoll_create1;
/**
 * `int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)` — `events` is the interest
 * mask, `data` the uint32 token stored in `ev.data` and given back by `epoll_wait` (default: fd).
 * @function
 */
export const epoll_ctl = native.epoll_ctl;
/**
 * `int epoll_wait(int epfd, struct epoll_event *ev, int maxevents, int timeout)` — fills
 * `events[2i] = mask`, `events[2i + 1] = token` for each of the `n` ready fds and returns `n`.
 * Capacity is `events.length / 2` (at most 65,536). `timeoutMs`: −1 blocks, 0 polls.
 * @function
 */
export const epoll_wait = native.epoll_wait;
/**
 * `epoll_pwait2` — as {@link epoll_wait}, with a nanosecond timeout (−1 blocks; a Number or a
 * BigInt up to 2^63 − 1). Linux ≥ 5.11.
 * @function
 */
export const epoll_pwait2 = native.epoll_pwait2;
/**
 * Busy-polls: `epoll_wait(epfd, …, 0)` again and again, without ever sleeping, until an fd is
 * ready or CLOCK_MONOTONIC reaches `untilNs` (absolute ns, as {@link clock_gettime} reads it; a
 * Number or a BigInt up to 2^63 − 1);
 * returns the events found, as {@link epoll_wait}, or 0 at the deadline. One native call for the
 * whole stretch: the loop's `spinUs` uses it. It holds the thread (and a CPU) until then.
 * @function
 */
export const epoll_spin = native.epoll_spin;

// ── fds ────────────────────────────────────────────────────────────────────────────────────
/** `ssize_t read(int fd, void *buf, size_t count)` on `buffer[offset, offset + length)`; −EAGAIN when not ready. @function */
export const read = native.read;
/** `ssize_t write(int fd, const void *buf, size_t count)`; −EAGAIN when not ready. @function */
export const write = native.write;
/** `ssize_t readv(int fd, const struct iovec *iov, int iovcnt)`; −EAGAIN when not ready. @function */
export const readv = native.readv;
/** `ssize_t writev(int fd, const struct iovec *iov, int iovcnt)`; −EAGAIN when not ready. @function */
export const writev = native.writev;
/** `int close(int fd)`. Not retried on EINTR (Linux has released the fd already). @function */
export const close = native.close;
/**
 * Not a syscall: mark `fd` to be closed when this thread's Node environment is torn down (a
 * worker's end or `worker.terminate()`, when no JavaScript runs) unless {@link close} closes it
 * first. The library marks the fds its own objects open and close (loops' epoll fds and alarms,
 * sockets, servers, wakers); mark only an fd that will be closed through `sys.close`, never
 * `fs.closeSync` (teardown would close its number under the next owner). EBADF if not open.
 * See docs/threads.md. @function
 */
export const own_fd = native.own_fd;
/** The fds marked by {@link own_fd} in this thread and not closed yet, ascending. @function */
export const owned_fds = native.owned_fds;
/** `int pipe2(int fds[2], int flags)` → `[readFd, writeFd]` (always `O_CLOEXEC`). @function */
export const pipe2 = native.pipe2;
/** `int eventfd(unsigned initval, int flags)` (always `EFD_CLOEXEC`). @function */
export const eventfd = native.eventfd;
/** `int eventfd_read(int fd, eventfd_t *value)` → the counter, or −EAGAIN. @function */
export const eventfd_read = native.eventfd_read;
/** `int eventfd_write(int fd, eventfd_t value)` → 0, or −EAGAIN when the counter would overflow. @function */
export const eventfd_write = native.eventfd_write;
/**
 * `int fcntl(int fd, int cmd, int arg)` for the integer commands only: F_GETFL, F_SETFL,
 * F_GETFD, F_SETFD, F_DUPFD_CLOEXEC, F_GETPIPE_SZ, F_SETPIPE_SZ (others take pointers; refused).
 * @function
 */
export const fcntl = native.fcntl;
/**
 * `int poll(struct pollfd *fds, nfds_t nfds, int timeout)` — `fds` holds (fd, events, revents)
 * triples; revents is written back. Here to compare with epoll (see the course).
 * @function
 */
export const poll = native.poll;

/** Sets or clears `O_NONBLOCK` on `fd` (two fcntl calls, as libuv's `uv__nonblock_fcntl`). */
export function setNonBlocking(fd: number, on: boolean): void {
  if (typeof on !== 'boolean') throw invalidArgType('on', 'of type boolean', on);
  const flags = native.fcntl(fd, F_GETFL);
  const next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (next !== flags) native.fcntl(fd, F_SETFL, next);
}

/** Whether `O_NONBLOCK` is set on `fd`. */
export function isNonBlocking(fd: number): boolean {
  return (native.fcntl(fd, F_GETFL) & O_NONBLOCK) !== 0;
}

/** Whether `FD_CLOEXEC` is set on `fd`. */
export function isCloseOnExec(fd: number): boolean {
  return (native.fcntl(fd, F_GETFD) & FD_CLOEXEC) !== 0;
}

// ── inotify ────────────────────────────────────────────────────────────────────────────────
/** `int inotify_init1(int flags)` (always `IN_CLOEXEC`). Events are read from the fd with `read`. @function */
export const inotify_init1 = native.inotify_init1;
/** `int inotify_add_watch(int fd, const char *path, uint32_t mask)` → the watch descriptor. @function */
export const inotify_add_watch = native.inotify_add_watch;
/** `int inotify_rm_watch(int fd, int wd)`; the kernel then queues `IN_IGNORED` for `wd`. @function */
export const inotify_rm_watch = native.inotify_rm_watch;

// ── time ───────────────────────────────────────────────────────────────────────────────────
/** `int clock_gettime(clockid_t clk, struct timespec *ts)` → nanoseconds. @function */
export const clock_gettime = native.clock_gettime;
/** `int timerfd_create(int clockid, int flags)` (always `TFD_CLOEXEC`). @function */
export const timerfd_create = native.timerfd_create;
/**
 * `int timerfd_settime(int fd, int flags, const struct itimerspec *new, struct itimerspec *old)`
 * with `{ value, interval }` in nanoseconds → the old setting. `value: 0` disarms. Each is a
 * Number (exact up to 2^53 ns; past that, the nearest double: CLOCK_MONOTONIC passes 2^53 ns
 * after ~104.25 days of uptime) or a BigInt (exact), up to 2^63 − 1.
 * @function
 */
export const timerfd_settime = native.timerfd_settime;
/** `int timerfd_gettime(int fd, struct itimerspec *cur)` → `{ value, interval }` in ns. @function */
export const timerfd_gettime = native.timerfd_gettime;
/** Reads a timerfd's 8-byte expiration count; −EAGAIN when it has not expired (non-blocking). @function */
export const timerfd_read = native.timerfd_read;

// ── sockets ────────────────────────────────────────────────────────────────────────────────
/** `int socket(int domain, int type, int protocol)` (always `SOCK_CLOEXEC`). @function */
export const socket = native.socket;
/**
 * `int bind(int fd, const struct sockaddr *addr, socklen_t len)` — `address` is an IPv4 or IPv6
 * literal or a Unix path, as the socket's family says (a leading `'\0'`: abstract namespace).
 * @function
 */
export const bind = native.bind;
/** `int listen(int fd, int backlog)` (default backlog `SOMAXCONN`). @function */
export const listen = native.listen;
/** `int accept4(int fd, NULL, NULL, int flags)` → new fd (always CLOEXEC), or −EAGAIN. @function */
export const accept4 = native.accept4;
/** `int connect(int fd, …)` → 0, −EINPROGRESS (wait for EPOLLOUT, then read SO_ERROR), or −EAGAIN (Unix, queue full). @function */
export const connect = native.connect;
/** `int shutdown(int fd, int how)` — `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`. @function */
export const shutdown = native.shutdown;
/** `int getsockopt(…)` → the int value; with `buffer`, fills it and returns the length. @function */
export const getsockopt = native.getsockopt;
/** `int setsockopt(…)` with an int (or boolean) value, or the raw bytes of a struct (e.g. `linger`). @function */
export const setsockopt = native.setsockopt;
/** `int getsockname(int fd, …)` → `{ address, port, family }`. @function */
export const getsockname = native.getsockname;
/** `int getpeername(int fd, …)` → `{ address, port, family }`. @function */
export const getpeername = native.getpeername;
/** `ssize_t send(int fd, …, int flags)` — always with `MSG_NOSIGNAL` (EPIPE, never SIGPIPE); −EAGAIN when full. @function */
export const send = native.send;
/** `ssize_t recv(int fd, …, int flags)`; −EAGAIN when nothing is there. @function */
export const recv = native.recv;
/** `ssize_t sendmsg(int fd, …)` with an iovec of `buffers` and `MSG_NOSIGNAL`; −EAGAIN when full. @function */
export const sendmsg = native.sendmsg;

// ── batches ────────────────────────────────────────────────────────────────────────────────
/**
 * Packed reads of many fds in one native call: fd `fds[i]` reads up to `ranges[2i+1]` bytes
 * into `buffer` right after the previous fd's bytes (the first at `start`), so the buffer fills
 * without gaps. On return `ranges[2i]` is where its bytes start and `ranges[2i+1]` the result:
 * bytes read, 0 for EOF, or −errno (−EAGAIN: not ready; −ENOBUFS: no room left, nothing read).
 * Nothing throws per fd. Returns the offset past the last byte. A socket is read with
 * `recvfrom(fd, …, 0, NULL, NULL)` — read(2) by definition, without read(2)'s trip through the
 * VFS (~25 ns less per call here) — and any other fd (it answers `ENOTSOCK`) with read(2). The
 * loop reads every ready socket of an iteration this way.
 * @function
 */
export const read_many = native.read_many;
/**
 * `send(fds[i], buffer + ranges[2i], ranges[2i+1], MSG_NOSIGNAL)` for each i < count, in one
 * native call; `ranges[2i+1]` becomes the result: bytes sent or −errno (−EAGAIN: full). Returns
 * count. The loop sends the small writes of an iteration this way.
 * @function
 */
export const send_many = native.send_many;

/**
 * Builds `struct linger { int l_onoff; int l_linger; }` for `setsockopt(fd, SOL_SOCKET, SO_LINGER, …)`.
 * `onoff` must be a boolean, `seconds` an integer from 0 to 2^31 − 1, as every `sys` argument is checked.
 */
export function linger(onoff: boolean, seconds: number): Buffer {
  if (typeof onoff !== 'boolean') throw invalidArgType('onoff', 'of type boolean', onoff);
  if (typeof seconds !== 'number') throw invalidArgType('seconds', 'of type number', seconds);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 2 ** 31 - 1) {
    throw outOfRange('seconds', 'an integer >= 0 and <= 2147483647', seconds);
  }
  const b = Buffer.alloc(8);
  b.writeInt32LE(onoff ? 1 : 0, 0);
  b.writeInt32LE(seconds, 4);
  return b;
}
