/**
 * `dgram.Socket` on the reactor: Node's UDP socket, its events, errors and validation, with the
 * reads and sends batched per loop (batch.ts). Where it differs from Node is in docs/udp.md.
 */
import { lookup as dnsLookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { loop as defaultLoop, type Loop, type Watcher } from '../reactor/index';
import * as sys from '../sys/index';
import { destination } from './address';
import { batchOf, type DgramBatch, type RemoteInfo, type SendCallback } from './batch';
import * as errors from './errors';
import * as options from './options';
import { type SendArgs, sendArgs, validatePort } from './send-args';

const { EPOLLIN, EPOLLOUT, EPOLLERR } = sys;

export type SocketType = 'udp4' | 'udp6';
/** What send() takes: bytes or text, or a list of them sent as one datagram. */
export type Message = string | NodeJS.ArrayBufferView | readonly (string | NodeJS.ArrayBufferView)[];
/** Node's `lookup(hostname, family, callback)` (dns.lookup's shape). */
export type LookupFunction = (hostname: string, family: number, callback: (err: Error | null, address: string, family?: number) => void) => void;

export interface SocketOptions {
  type: SocketType;
  /** SO_REUSEADDR before bind: several sockets may bind one address and port. */
  reuseAddr?: boolean;
  /** SO_REUSEPORT before bind: the kernel spreads datagrams over the sockets bound alike. */
  reusePort?: boolean;
  /** IPV6_V6ONLY before bind (udp6): '::' does not take IPv4 too. */
  ipv6Only?: boolean;
  /** SO_RCVBUF, set once bound. */
  recvBufferSize?: number;
  /** SO_SNDBUF, set once bound. */
  sendBufferSize?: number;
  /** Resolves host names (default dns.lookup); called for every address, as Node does. */
  lookup?: LookupFunction;
  /** Closes the socket when aborted. */
  signal?: AbortSignal;
  /** The loop the socket lives on (default: the default loop). */
  loop?: Loop;
}

export interface BindOptions {
  port?: number;
  address?: string;
  /** A datagram socket opened elsewhere to take over (the socket then owns and closes it). */
  fd?: number;
  /** Accepted, as Node accepts it; there is no cluster to share with. */
  exclusive?: boolean;
}

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

enum Bind {
  Unbound,
  Binding,
  Bound,
}
enum Conn {
  Disconnected,
  Connecting,
  Connected,
}

/**
 * Resolves `address` (Node's lookup4/lookup6): a literal without a user lookup in a nextTick, as
 * dns.lookup answers one; anything else through the lookup (dns.lookup answers through Node's
 * loop, which runs beside ours under either driver: docs/node-integration.md).
 */
function resolve(self: Socket, address: string, cb: (err: Error | null, ip: string) => void): void {
  const host = address || (self.type === 'udp4' ? '127.0.0.1' : '::1');
  if (self._lookup !== undefined) self._lookup(host, self.type === 'udp4' ? 4 : 6, (err, ip) => cb(err, ip));
  else if (isIP(host) !== 0) process.nextTick(cb, null, host);
  else dnsLookup(host, self.type === 'udp4' ? 4 : 6, (err, ip) => cb(err, ip));
}

/**
 * A UDP socket, as Node's `dgram.Socket`.
 *
 * @example
 * ```ts
 * import { dgram } from 'epoll-reactor';
 * const server = dgram.createSocket('udp4', (msg, rinfo) => {
 *   server.send(msg, rinfo.port, rinfo.address); // echo
 * });
 * server.bind(41234, '127.0.0.1', () => console.log('listening', server.address()));
 * ```
 */
export class Socket extends EventEmitter {
  readonly type: SocketType;
  /** @internal */ _fd = -1;
  /** @internal */ _closed = false;
  /** @internal */ _queuedCount = 0;
  /** @internal */ _queuedBytes = 0;
  /** @internal */ _flushMark = 0;
  /** @internal */ _fdIndex = 0;
  /** @internal */ readonly _lookup: LookupFunction | undefined;
  private readonly loop: Loop;
  private readonly batch: DgramBatch;
  private watcher: Watcher | null = null;
  private bindState = Bind.Unbound;
  private connectState = Conn.Disconnected;
  /** Operations waiting for an implicit bind to finish (Node's state.queue). */
  private queue: (() => void)[] | undefined = undefined;
  private refed = true;
  /** close() was called while datagrams were queued: the fd closes once they are settled. */
  private closeWhenSent = false;
  private readonly opts: {
    reuseAddr: boolean;
    reusePort: boolean;
    ipv6Only: boolean;
    recvBufferSize: number | undefined;
    sendBufferSize: number | undefined;
  };

  constructor(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    let options: Partial<SocketOptions> = {};
    if (type !== null && typeof type === 'object') {
      options = type;
      type = options.type as SocketType;
      if (options.recvBufferSize) validateUint32(options.recvBufferSize, 'options.recvBufferSize');
      if (options.sendBufferSize) validateUint32(options.sendBufferSize, 'options.sendBufferSize');
    }
    if (options.lookup !== undefined && typeof options.lookup !== 'function') {
      throw errors.invalidArgType('lookup', 'Function', options.lookup);
    }
    if (type !== 'udp4' && type !== 'udp6') throw errors.badType();
    this.type = type;
    this._lookup = options.lookup;
    this.loop = options.loop ?? defaultLoop;
    this.batch = batchOf(this.loop);
    this.opts = {
      reuseAddr: options.reuseAddr === true,
      reusePort: options.reusePort === true,
      ipv6Only: options.ipv6Only === true,
      recvBufferSize: options.recvBufferSize,
      sendBufferSize: options.sendBufferSize,
    };
    if (typeof listener === 'function') this.on('message', listener);
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
        throw errors.invalidArgType('options.signal', 'AbortSignal', signal);
      }
      const onAbort = (): void => {
        if (!this._closed) this.close();
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  // ══ bind and connect ════════════════════════════════════════════════════════════════════

  /**
   * `bind([port], [address], [callback])` or `bind({ port, address, exclusive }, [callback])`:
   * 'listening' once bound (the callback is its listener), or 'error' (EADDRINUSE, …, with
   * syscall 'bind'). Address default: every interface ('0.0.0.0' or '::'); port 0: any free one.
   */
  bind(port?: number | BindOptions | null | (() => void), address?: string | (() => void), callback?: () => void): this;
  bind(...args: unknown[]): this {
    this.healthCheck();
    if (this.bindState !== Bind.Unbound) throw errors.alreadyBound();
    let port = args[0];
    let address: unknown = args[1];
    if (port !== null && typeof port === 'object') {
      const o = port as BindOptions;
      if (typeof o.fd === 'number' && (o.fd | 0) === o.fd && o.fd > 0) return this.adopt(o.fd, args);
      address = o.address || '';
      port = o.port;
    } else if (typeof address === 'function') address = '';
    if (typeof port === 'function') port = 0;
    // Node 20 leaves the port to its C++ layer, which truncates 70000 to 4464 and -1 to 65535;
    // here a bad port is a RangeError, as connect() and send() give.
    const p = port === undefined || port === null ? 0 : validatePort(port, 'Port', true);
    if (address !== undefined && address !== null && typeof address !== 'string') {
      throw errors.invalidArgType('address', 'string', address);
    }
    this.bindState = Bind.Binding;
    const cb = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof cb === 'function') {
      const onListening = (): void => {
        this.removeListener('error', removeListeners);
        cb.call(this);
      };
      const removeListeners = (): void => {
        this.removeListener('error', removeListeners);
        this.removeListener('listening', onListening);
      };
      this.on('error', removeListeners);
      this.on('listening', onListening);
    }
    const host = (address as string | undefined) || (this.type === 'udp4' ? '0.0.0.0' : '::');
    resolve(this, host, (err, ip) => {
      if (this._closed) return;
      if (err) {
        this.bindState = Bind.Unbound;
        this.emit('error', err);
        return;
      }
      const e = this.doBind(ip, p);
      if (e !== null) {
        this.bindState = Bind.Unbound;
        this.emit('error', e);
        return;
      }
      this.startListening();
    });
    return this;
  }

  /** bind({ fd }): takes over a datagram socket opened elsewhere; 'listening' at once, as in Node. */
  private adopt(fd: number, args: unknown[]): this {
    const type = options.fdType(fd);
    if (type !== 'UDP') throw errors.invalidFdType(type);
    sys.setNonBlocking(fd, true);
    this.bindState = Bind.Binding;
    const cb = args[args.length - 1];
    if (typeof cb === 'function') this.once('listening', cb as () => void);
    this._fd = fd;
    this.startListening();
    return this;
  }

  /** Makes the fd and binds it; returns the error to emit, or null. */
  private doBind(ip: string, port: number): Error | null {
    const v6 = this.type === 'udp6';
    if (destination(ip, v6) === null || (this.opts.ipv6Only && !v6)) {
      return errors.exceptionWithHostPort(-sys.errno.EINVAL!, 'bind', ip, port);
    }
    let fd = -1;
    try {
      fd = sys.socket(v6 ? sys.AF_INET6 : sys.AF_INET, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK);
      if (this.opts.reuseAddr) sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEADDR, 1);
      if (this.opts.reusePort) sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEPORT, 1);
      if (this.opts.ipv6Only) sys.setsockopt(fd, sys.IPPROTO_IPV6, sys.IPV6_V6ONLY, 1);
      sys.bind(fd, ip, port);
    } catch (e) {
      if (fd >= 0) sys.close(fd);
      if (!sys.isSystemError(e)) throw e;
      return errors.exceptionWithHostPort(e.errno, 'bind', ip, port);
    }
    this._fd = fd;
    return null;
  }

  private startListening(): void {
    this.watcher = this.loop.watch(this._fd, EPOLLIN, (events) => this.onEvents(events));
    // A loop force-closed under the socket closes its fd too: nothing leaks (net does the same).
    this.watcher.onLoopClose = () => this.destroyFd();
    if (!this.refed) this.watcher.unref();
    this.bindState = Bind.Bound;
    try {
      if (this.opts.recvBufferSize) this.bufferSize(this.opts.recvBufferSize, 'recv');
      if (this.opts.sendBufferSize) this.bufferSize(this.opts.sendBufferSize, 'send');
    } catch (e) {
      this.emit('error', e); // Node throws from inside its lookup callback: an uncaught exception
    }
    this.emit('listening');
  }

  private onEvents(events: number): void {
    if (events & EPOLLOUT) {
      this.watcher!.modify(EPOLLIN);
      this.batch.scheduleFlush();
    }
    if (events & (EPOLLIN | EPOLLERR)) this.batch.receive(this);
  }

  /**
   * Associates the socket with one peer: `send` then needs no address, and only the peer's
   * datagrams arrive. 'connect' follows (the callback is its listener), or the error.
   */
  connect(port: number, address?: string | (() => void), callback?: () => void): void {
    const p = validatePort(port, 'Port', false);
    if (typeof address === 'function') {
      callback = address;
      address = '';
    } else if (address === undefined) address = '';
    if (typeof address !== 'string') throw errors.invalidArgType('address', 'string', address);
    this.healthCheck();
    if (this.connectState !== Conn.Disconnected) throw errors.isConnected();
    this.connectState = Conn.Connecting;
    if (this.bindState === Bind.Unbound) this.bind({ port: 0, exclusive: true });
    const host = address;
    const run = (): void => this.doConnect(p, host, callback);
    if (this.bindState !== Bind.Bound) this.enqueue(run);
    else run();
  }

  private doConnect(port: number, address: string, callback: (() => void) | undefined): void {
    if (callback) this.once('connect', callback);
    resolve(this, address, (err, ip) => {
      if (this._closed) return;
      let ex: Error | null = err;
      if (ex === null) {
        if (destination(ip, this.type === 'udp6') === null) ex = errors.exceptionWithHostPort(-sys.errno.EINVAL!, 'connect', address, port);
        else {
          try {
            sys.connect(this._fd, ip, port);
          } catch (e) {
            if (!sys.isSystemError(e)) throw e;
            ex = errors.exceptionWithHostPort(e.errno, 'connect', address, port);
          }
        }
      }
      if (ex !== null) {
        this.connectState = Conn.Disconnected;
        const failure = ex;
        process.nextTick(() => {
          if (callback) {
            this.removeListener('connect', callback);
            (callback as (e: Error) => void)(failure);
          } else this.emit('error', failure);
        });
        return;
      }
      this.connectState = Conn.Connected;
      process.nextTick(() => this.emit('connect'));
    });
  }

  /** Dissolves the association made by connect(). */
  disconnect(): void {
    if (this.connectState !== Conn.Connected) throw errors.notConnected();
    this.healthCheck();
    try {
      sys.connect_unspec(this._fd);
    } catch (e) {
      if (!sys.isSystemError(e)) throw e;
      throw errors.errnoException(e.errno, 'connect');
    }
    this.connectState = Conn.Disconnected;
  }

  /** Runs `fn` once the implicit bind is done (dropped if it fails), as Node's send queue. */
  private enqueue(fn: () => void): void {
    if (this.queue === undefined) {
      this.queue = [];
      const onError = (): void => {
        this.removeListener('listening', onListening);
        this.queue = undefined;
      };
      const onListening = (): void => {
        this.removeListener(EventEmitter.errorMonitor, onError);
        const q = this.queue!;
        this.queue = undefined;
        for (const f of q) f();
      };
      this.once(EventEmitter.errorMonitor, onError);
      this.once('listening', onListening);
    }
    this.queue.push(fn);
  }

  // ══ send ════════════════════════════════════════════════════════════════════════════════

  /**
   * `send(msg, [offset, length,] [port, [address,]] [callback])`: one datagram of `msg` (a Buffer,
   * TypedArray, DataView or string, or a list of them, sent as one datagram). Unbound: binds to
   * a free port first. Host names go through `lookup`. `callback(err, bytes)`; a failed send
   * without a callback is dropped, as in Node.
   */
  send(msg: Message, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Message, port?: number, callback?: SendCallback): void;
  send(msg: Message, callback?: SendCallback): void;
  send(msg: Message, offset: number, length: number, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Message, offset: number, length: number, port?: number, callback?: SendCallback): void;
  send(msg: Message, offset: number, length: number, callback?: SendCallback): void;
  send(msg: unknown, a1?: unknown, a2?: unknown, a3?: unknown, a4?: unknown, a5?: unknown): void {
    // The common call — send(buffer, port, ip[, callback]) on a bound, unconnected socket — goes
    // straight to the batch: Node's sorting of the arguments would reach the same result
    // through an array and an object per datagram.
    if (
      this.bindState === Bind.Bound &&
      this.connectState === Conn.Disconnected &&
      this._lookup === undefined &&
      typeof a1 === 'number' &&
      typeof a2 === 'string' &&
      a4 === undefined &&
      (a3 === undefined || typeof a3 === 'function') &&
      msg instanceof Uint8Array &&
      a1 > 0 &&
      a1 <= 0xffff &&
      (a1 | 0) === a1 &&
      !this._closed
    ) {
      const dest = destination(a2, this.type === 'udp6');
      if (dest !== null) {
        this.batch.add(this, msg, dest, a1, a3 as SendCallback | undefined, a2, a1);
        return;
      }
    }
    const a = sendArgs(msg, [a1, a2, a3, a4, a5], this.connectState === Conn.Connected);
    this.healthCheck();
    if (this.bindState === Bind.Unbound) this.bind({ port: 0, exclusive: true });
    if (this.bindState !== Bind.Bound) {
      this.enqueue(() => this.sendBound(a));
      return;
    }
    this.sendBound(a);
  }

  private sendBound(a: SendArgs): void {
    if (this._closed) return;
    if (this.connectState === Conn.Connected) {
      this.batch.add(this, a.list, null, 0, a.callback, undefined, undefined);
      return;
    }
    const address = a.address;
    // An IP literal needs no lookup (unless the user gave one: Node calls it for every address).
    if (this._lookup === undefined && typeof address === 'string' && address !== '' && destination(address, this.type === 'udp6') !== null) {
      this.sendTo(a, address);
      return;
    }
    resolve(this, address ?? '', (err, ip) => {
      if (err) {
        if (a.callback) process.nextTick(a.callback, err);
        else process.nextTick(() => this.emit('error', err));
        return;
      }
      if (!this._closed) this.sendTo(a, ip);
    });
  }

  private sendTo(a: SendArgs, ip: string): void {
    const dest = destination(ip, this.type === 'udp6');
    if (dest === null) {
      if (a.callback) process.nextTick(a.callback, errors.exceptionWithHostPort(-sys.errno.EINVAL!, 'send', a.address, a.port));
      return;
    }
    this.batch.add(this, a.list, dest, a.port, a.callback, a.address, a.port);
  }

  /** Bytes queued in this loop's send batch, not yet handed to the kernel. */
  getSendQueueSize(): number {
    return this._queuedBytes;
  }

  /** Datagrams queued in this loop's send batch, not yet handed to the kernel. */
  getSendQueueCount(): number {
    return this._queuedCount;
  }

  /** @internal */
  _onSendBlocked(): void {
    if (this.watcher !== null && !this.watcher.closed && !(this.watcher.interest & EPOLLOUT)) this.watcher.modify(EPOLLIN | EPOLLOUT);
  }

  /** @internal */
  _onSendQueueEmpty(): void {
    if (this.closeWhenSent) this.finishClose();
  }

  /** @internal */
  _onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    this.emit('message', msg, rinfo);
  }

  /** @internal */
  _onRecvError(errno: number): void {
    this.emit('error', errors.errnoException(errno, 'recvmsg'));
  }

  // ══ close ═══════════════════════════════════════════════════════════════════════════════

  /**
   * Stops receiving and closes the fd; 'close' follows (the callback is its listener). Datagrams
   * queued by send() still go out first (Node drops them).
   */
  close(callback?: () => void): this {
    if (typeof callback === 'function') this.on('close', callback);
    if (this.queue !== undefined) {
      this.queue.push(() => this.close());
      return this;
    }
    this.healthCheck();
    this._closed = true;
    if (this.watcher !== null) {
      this.watcher.close();
      this.watcher = null;
    }
    if (this._queuedCount > 0) {
      this.closeWhenSent = true;
      this.batch.scheduleFlush();
    } else this.finishClose();
    return this;
  }

  private finishClose(): void {
    this.closeWhenSent = false;
    if (this._fd >= 0) sys.close(this._fd);
    this._fd = -1;
    process.nextTick(() => this.emit('close'));
  }

  /** The loop is being force-closed: the fd goes with it. */
  private destroyFd(): void {
    if (this._fd < 0) return;
    this._closed = true;
    this.watcher = null;
    sys.close(this._fd);
    this._fd = -1;
    process.nextTick(() => this.emit('close'));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this._closed) return;
    await new Promise<void>((resolve) => this.close(resolve));
  }

  // ══ addresses and options ═══════════════════════════════════════════════════════════════

  /** The bound address: `{ address, family, port }`. */
  address(): AddressInfo {
    this.healthCheck();
    const a = this.sockName(sys.getsockname, 'getsockname');
    return { address: a.address, family: a.family, port: a.port };
  }

  /** The connected peer's address. */
  remoteAddress(): AddressInfo {
    this.healthCheck();
    if (this.connectState !== Conn.Connected) throw errors.notConnected();
    const a = this.sockName(sys.getpeername, 'getpeername');
    return { address: a.address, family: a.family, port: a.port };
  }

  private sockName(fn: (fd: number) => sys.SocketAddress, syscall: string): sys.SocketAddress {
    if (this._fd < 0) throw errors.errnoException(-sys.errno.EBADF!, syscall);
    try {
      return fn(this._fd);
    } catch (e) {
      if (!sys.isSystemError(e)) throw e;
      throw errors.errnoException(e.errno, syscall);
    }
  }

  private get v6(): boolean {
    return this.type === 'udp6';
  }

  setBroadcast(flag: boolean): void {
    this.healthCheck();
    options.option(this._fd, 'setBroadcast', (fd) => sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_BROADCAST, flag ? 1 : 0));
  }

  /** IP_TTL / IPV6_UNICAST_HOPS, 1 to 255. */
  setTTL(ttl: number): number {
    this.healthCheck();
    options.ttl(this._fd, this.v6, 'setTTL', ttl);
    return ttl;
  }

  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS, 0 to 255. */
  setMulticastTTL(ttl: number): number {
    this.healthCheck();
    options.ttl(this._fd, this.v6, 'setMulticastTTL', ttl);
    return ttl;
  }

  setMulticastLoopback(flag: boolean): boolean {
    this.healthCheck();
    options.multicastLoopback(this._fd, this.v6, flag);
    return flag;
  }

  /** IP_MULTICAST_IF (an IPv4 interface address) / IPV6_MULTICAST_IF ('::%eth0': the zone's index). */
  setMulticastInterface(interfaceAddress: string): void {
    this.healthCheck();
    options.multicastInterface(this._fd, this.v6, interfaceAddress);
  }

  addMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.healthCheck();
    options.membership(this._fd, 'addMembership', multicastAddress, interfaceAddress, true);
  }

  dropMembership(multicastAddress: string, interfaceAddress?: string): void {
    this.healthCheck();
    options.membership(this._fd, 'dropMembership', multicastAddress, interfaceAddress, false);
  }

  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.healthCheck();
    options.sourceMembership(this._fd, 'addSourceSpecificMembership', sourceAddress, groupAddress, interfaceAddress, true);
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, interfaceAddress?: string): void {
    this.healthCheck();
    options.sourceMembership(this._fd, 'dropSourceSpecificMembership', sourceAddress, groupAddress, interfaceAddress, false);
  }

  setRecvBufferSize(size: number): void {
    this.bufferSize(size, 'recv');
  }

  setSendBufferSize(size: number): void {
    this.bufferSize(size, 'send');
  }

  getRecvBufferSize(): number {
    return this.bufferSize(0, 'recv');
  }

  getSendBufferSize(): number {
    return this.bufferSize(0, 'send');
  }

  private bufferSize(size: number, which: 'recv' | 'send'): number {
    const n = options.checkBufferSize(size);
    this.healthCheck();
    return options.bufferSize(this._fd, n, which);
  }

  // ══ lifetime ════════════════════════════════════════════════════════════════════════════

  /** Keeps the loop (and the process) alive while the socket is open (the default). */
  ref(): this {
    this.refed = true;
    this.watcher?.ref();
    return this;
  }

  /** Lets the loop end while the socket is open. */
  unref(): this {
    this.refed = false;
    this.watcher?.unref();
    return this;
  }

  private healthCheck(): void {
    if (this._closed) throw errors.notRunning();
  }
}

/** Node's validateUint32 (the buffer-size options). */
function validateUint32(value: unknown, name: string): void {
  if (typeof value !== 'number') throw errors.invalidArgType(name, 'number', value);
  if (!Number.isInteger(value)) throw errors.outOfRange(name, 'an integer', value);
  if (value < 0 || value > 4_294_967_295) throw errors.outOfRange(name, '>= 0 && <= 4294967295', value);
}

export type { RemoteInfo, SendCallback };
