/**
 * Loads the native addon and describes it. Nothing else in the project touches the addon
 * directly: `lib/sys/index.ts` is its typed face.
 *
 * The addon is found through node-gyp-build (a matching prebuild in `prebuilds/` when present,
 * the local `build/Release` otherwise). `EPOLL_REACTOR_ADDON=/path/to/addon.node` loads a
 * specific build instead (the cmake-js and sanitizer builds are tested that way).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** `{ value, interval }` of a timerfd, in nanoseconds. */
export interface TimerSpec {
  value: number;
  interval: number;
}

/** What timerfd_settime takes: nanoseconds as a Number or, exactly past 2^53, a BigInt. */
export interface TimerSpecIn {
  value: number | bigint;
  interval: number | bigint;
}

/** An address as getsockname/getpeername return it. */
export interface SocketAddress {
  address: string;
  /** −1 for Unix sockets. */
  port: number;
  family: 'IPv4' | 'IPv6' | 'Unix';
}

/**
 * Bytes to read into or send from: an ArrayBufferView (Buffer, any TypedArray, DataView) or a
 * whole ArrayBuffer. The ArrayBuffer is the cheaper of the two to hand to native code (~4 ns
 * against ~20 for a view, whose element type Node-API looks up one test at a time): the loop
 * passes its arrays' ArrayBuffers on every iteration.
 */
export type Bytes = NodeJS.ArrayBufferView | ArrayBuffer;
/** 32-bit words: the typed array, or a whole ArrayBuffer read as one. */
export type Words<T extends Int32Array | Uint32Array> = T | ArrayBuffer;

/** Opaque handle of an epoll fd watched by Node's libuv loop. */
export interface AttachHandle {
  readonly __attachHandle: unique symbol;
}

/** The UDP natives (native/udp.cc, native/inet.cc): typed in lib/sys/udp.ts's terms. */
export interface UdpNative {
  recvmmsg(fd: number, buffer: Bytes, msgs: Words<Int32Array>, vlen: number, flags?: number): number;
  sendmmsg(fd: number, buffer: Bytes, msgs: Words<Int32Array>, vlen: number, flags?: number): number;
  recvmmsg_many(
    fds: Words<Int32Array>,
    count: number,
    buffer: Bytes,
    start: number,
    slot: number,
    msgs: Words<Int32Array>,
    results: Words<Int32Array>,
  ): number;
  sendmmsg_many(fds: Words<Int32Array>, count: number, buffer: Bytes, msgs: Words<Int32Array>, n: number): number;
  connect_unspec(fd: number): void;
  inet_pton(af: number, src: string): Buffer | null;
  inet_ntop(af: number, src: Bytes): string;
  if_nametoindex(name: string): number;
  if_indextoname(index: number): string;
  ip_mreq(group: string, iface?: string): Buffer;
  ip_mreq_source(group: string, iface: string, source: string): Buffer;
  ipv6_mreq(group: string, ifindex?: number): Buffer;
  group_source_req(ifindex: number, group: string, source: string): Buffer;
}

export interface Native extends UdpNative {
  constants: Record<string, number>;
  errno: Record<string, number>;
  makeSystemError(errno: number, syscall: string): Error;
  epoll_create1(flags?: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, events?: number, data?: number): void;
  epoll_wait(epfd: number, events: Words<Uint32Array>, timeoutMs: number): number;
  epoll_pwait2(epfd: number, events: Words<Uint32Array>, timeoutNs: number | bigint): number;
  epoll_spin(epfd: number, events: Words<Uint32Array>, untilNs: number | bigint): number;
  read(fd: number, buffer: Bytes, offset?: number, length?: number): number;
  write(fd: number, buffer: Bytes, offset?: number, length?: number): number;
  readv(fd: number, buffers: readonly Bytes[]): number;
  writev(fd: number, buffers: readonly Bytes[]): number;
  close(fd: number): void;
  own_fd(fd: number): void;
  owned_fds(): number[];
  pipe2(flags?: number): [number, number];
  eventfd(initval?: number, flags?: number): number;
  eventfd_read(fd: number): number;
  eventfd_write(fd: number, value: number): number;
  fcntl(fd: number, cmd: number, arg?: number): number;
  inotify_init1(flags?: number): number;
  inotify_add_watch(fd: number, path: string, mask: number): number;
  inotify_rm_watch(fd: number, wd: number): void;
  poll(fds: Words<Int32Array>, timeoutMs: number): number;
  clock_gettime(clockid: number): number;
  timerfd_create(clockid: number, flags?: number): number;
  timerfd_settime(fd: number, flags: number, spec: Partial<TimerSpecIn>): TimerSpec;
  timerfd_gettime(fd: number): TimerSpec;
  timerfd_read(fd: number): number;
  socket(domain: number, type: number, protocol?: number): number;
  bind(fd: number, address: string, port?: number): void;
  listen(fd: number, backlog?: number): void;
  accept4(fd: number, flags?: number): number;
  connect(fd: number, address: string, port?: number): number;
  shutdown(fd: number, how: number): void;
  getsockopt(fd: number, level: number, name: number, buffer?: Bytes): number;
  setsockopt(fd: number, level: number, name: number, value: number | boolean | Bytes): void;
  getsockname(fd: number): SocketAddress;
  getpeername(fd: number): SocketAddress;
  send(fd: number, buffer: Bytes, offset?: number, length?: number, flags?: number): number;
  recv(fd: number, buffer: Bytes, offset?: number, length?: number, flags?: number): number;
  sendmsg(fd: number, buffers: readonly Bytes[]): number;
  read_many(fds: Words<Int32Array>, count: number, buffer: Bytes, ranges: Words<Int32Array>, start?: number): number;
  send_many(fds: Words<Int32Array>, count: number, buffer: Bytes, ranges: Words<Int32Array>): number;
  attach_start(epfd: number, callback: (status: number) => void): AttachHandle;
  attach_ref(handle: AttachHandle, ref: boolean): void;
  attach_stop(handle: AttachHandle): void;
  posix_spawn(path: string, argv: readonly string[], envp: readonly string[], actions?: readonly (readonly unknown[])[], flags?: number): number;
  pidfd_open(pid: number, flags?: number): number;
  pidfd_send_signal(pidfd: number, sig: number, flags?: number): void;
  waitid(idtype: number, id: number, options: number): { pid: number; code: number; status: number } | null;
  socketpair(domain: number, type: number, protocol?: number): [number, number];
  signalOpen(): number;
  signalStart(signum: number): number;
  signalStop(id: number): void;
  signalPoll(): number[];
  signalClose(): void;
  /** A uv_prepare_t (+ a uv_idle_t) calling `callback` before each poll of Node's loop. */
  standalone_start(callback: () => void): AttachHandle;
  /** Whether Node's next poll must not block. */
  standalone_idle(handle: AttachHandle, on: boolean): void;
  standalone_stop(handle: AttachHandle): void;
  /** The epoll fd Node's libuv loop polls. */
  uv_backend_fd(): number;
  /** When Node's loop must run next (ms of uv_now), 0 for now, −1 for only when I/O wakes it. */
  node_loop_next(): number;
}

/** The directory holding this package's package.json, from dist/lib/sys or lib/sys alike. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'epoll-reactor') return dir;
    if (dirname(dir) === dir) throw new Error(`epoll-reactor: package.json not found above ${from}`);
  }
}

function locate(): string {
  if (process.platform !== 'linux') {
    throw new Error(`epoll-reactor runs on Linux only (epoll, timerfd); this is ${process.platform}`);
  }
  const override = process.env.EPOLL_REACTOR_ADDON;
  if (override) return override;
  return require('node-gyp-build').resolve(packageRoot()) as string;
}

/** The path of the loaded addon (a prebuild, the local build, or `EPOLL_REACTOR_ADDON`). */
export const addonPath: string = locate();
export const native: Native = require(addonPath) as Native;

/**
 * A constant of the addon's table (from the C headers). Checked as the package loads: a name
 * the addon does not define is an error here, not an `undefined` that reaches a syscall.
 */
export function constant(name: string, table: Readonly<Record<string, number>> = native.constants): number {
  const value = table[name];
  if (typeof value !== 'number') throw new Error(`epoll-reactor: the addon (${addonPath}) defines no constant ${name}`);
  return value;
}
