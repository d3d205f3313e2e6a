/**
 * A socket's options and addresses: TCP_NODELAY, keep-alive, the inactivity timeout, the local
 * and remote addresses, the ready state, ref/unref. A layer of the Socket (see socket-core.ts),
 * between the write side and the public API.
 */
import { invalidArgType, outOfRange } from '../errors';
import * as sys from '../sys/index';
import { SocketWriter } from './socket-write';

const { SOL_SOCKET, IPPROTO_TCP, TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE } = sys;

export class SocketSettings extends SocketWriter {
  /** ref()/unref(): whether the socket keeps the loop alive while it is active. */
  protected refed = true;
  /** TCP_NODELAY wanted (applied once connected). */
  protected noDelay = true;
  /** SO_KEEPALIVE wanted (applied once connected). */
  protected keepAlive = false;

  protected applyTcpOptions(): void {
    if (this.unix || this.fd < 0) return;
    try {
      if (this.noDelay) sys.setsockopt(this.fd, IPPROTO_TCP, TCP_NODELAY, 1);
      if (this.keepAlive) this.setKeepAlive(true, this.ext?.keepAliveDelay ?? 0);
    } catch {
      // A socket reset before we got to it: the first read or write reports it.
    }
  }

  setNoDelay(noDelay = true): this {
    this.noDelay = Boolean(noDelay);
    if (this.connected && !this.destroyed && !this.unix) sys.setsockopt(this.fd, IPPROTO_TCP, TCP_NODELAY, noDelay ? 1 : 0);
    return this;
  }

  setKeepAlive(enable = false, initialDelayMs = 0): this {
    this.keepAlive = Boolean(enable);
    if (initialDelayMs || this.ext) this.x.keepAliveDelay = initialDelayMs;
    if (!this.connected || this.destroyed || this.unix || this.fd < 0) return this;
    sys.setsockopt(this.fd, SOL_SOCKET, SO_KEEPALIVE, enable ? 1 : 0);
    if (enable && initialDelayMs > 0) {
      sys.setsockopt(this.fd, IPPROTO_TCP, TCP_KEEPIDLE, Math.max(1, Math.floor(initialDelayMs / 1000)));
    }
    return this;
  }

  /**
   * Emit `'timeout'` after `ms` of inactivity (no bytes read or written); 0 disables. As in Node,
   * the socket is not closed: the listener decides.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number') throw invalidArgType('msecs', 'of type number', ms);
    if (!(ms >= 0) || !Number.isFinite(ms)) throw outOfRange('msecs', 'a non-negative finite number', ms);
    if (callback !== undefined) {
      if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    const x = this.x;
    x.timeoutMs = ms;
    x.timeoutProp = ms;
    x.timeoutTimer?.close();
    x.timeoutTimer = null;
    if (ms > 0 && !this.destroyed) {
      x.lastActive = this.loop.updateTime();
      x.timeoutTimer = this.loop.setTimeout(() => this.checkTimeout(), ms).unref();
    }
    return this;
  }

  /** The inactivity timeout in ms (0: none), as Node's `socket.timeout`. */
  get timeout(): number | undefined {
    return this.ext?.timeoutProp;
  }

  /** As Node's (a plain property there): setting it changes what it reads, not the timer. */
  set timeout(value: number | undefined) {
    this.x.timeoutProp = value;
  }

  /** Node's legacy name of `connecting`. */
  get _connecting(): boolean {
    return this.connecting;
  }

  private checkTimeout(): void {
    const x = this.x;
    if (this.destroyed || x.timeoutMs === 0) return;
    const idle = this.loop.now() - x.lastActive;
    if (idle >= x.timeoutMs) {
      x.lastActive = this.loop.now();
      x.timeoutTimer!.refresh();
      this.emit('timeout');
    } else {
      x.timeoutTimer = this.loop.setTimeout(() => this.checkTimeout(), x.timeoutMs - idle).unref();
    }
  }

  get remoteAddress(): string | undefined {
    return this.peerAddress()?.address;
  }

  get remotePort(): number | undefined {
    const p = this.peerAddress()?.port;
    return p === undefined || p < 0 ? undefined : p;
  }

  get remoteFamily(): string | undefined {
    return this.peerAddress()?.family;
  }

  get localAddress(): string | undefined {
    return this.address()?.address;
  }

  get localPort(): number | undefined {
    const p = this.address()?.port;
    return p === undefined || p < 0 ? undefined : p;
  }

  get localFamily(): string | undefined {
    return this.address()?.family;
  }

  /** getsockname(): `{ address, port, family }`, or `{}` when closed (as Node). */
  address(): sys.SocketAddress | Record<string, never> {
    if (this.fd < 0) return {};
    try {
      return sys.getsockname(this.fd);
    } catch {
      return {};
    }
  }

  private peerAddress(): sys.SocketAddress | undefined {
    if (!this.ext?.peer && this.fd >= 0 && this.connected) {
      try {
        this.x.peer = sys.getpeername(this.fd);
      } catch {
        return undefined;
      }
    }
    return this.ext?.peer ?? undefined;
  }

  /** 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed', as Node's. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** No connection yet (or no more): as Node's `socket.pending`. */
  get pending(): boolean {
    return this.fd < 0 || this.connecting;
  }

  /** Keep the loop alive for this socket (the default). */
  ref(): this {
    this.refed = true;
    this.watcher?.ref();
    return this;
  }

  /** Do not keep the loop alive for this socket alone. */
  unref(): this {
    this.refed = false;
    this.watcher?.unref();
    return this;
  }
}
