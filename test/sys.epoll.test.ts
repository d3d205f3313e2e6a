// epoll_create1 / epoll_ctl / epoll_wait / epoll_pwait2 / epoll_spin against real pipes and sockets.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, expectArgError, expectSystemError, sys, tcpPair } from './helpers';

checkFdsEachTest();

const events = new Uint32Array(2 * 16);
const closeAll = (...list: number[]) => list.forEach((fd) => sys.close(fd));

describe('epoll_create1', () => {
  it('creates a close-on-exec epoll fd', () => {
    const ep = sys.epoll_create1();
    expect(ep).toBeGreaterThan(2);
    expect(sys.isCloseOnExec(ep)).toBe(true);
    const ep2 = sys.epoll_create1(sys.EPOLL_CLOEXEC);
    expect(sys.isCloseOnExec(ep2)).toBe(true);
    closeAll(ep, ep2);
  });

  it('rejects unknown flags with EINVAL', () => {
    expectSystemError(() => sys.epoll_create1(0x4000_0000), 'EINVAL', 'epoll_create1');
  });
});

describe('epoll_ctl', () => {
  it('reports EEXIST, ENOENT, EBADF, EPERM and EINVAL as SystemErrors', () => {
    const ep = sys.epoll_create1();
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, r, sys.EPOLLIN);
    expectSystemError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, r, sys.EPOLLIN), 'EEXIST', 'epoll_ctl');
    expectSystemError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_MOD, w, sys.EPOLLOUT), 'ENOENT', 'epoll_ctl');
    expectSystemError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_DEL, w), 'ENOENT', 'epoll_ctl');
    // a regular file is always ready, so epoll refuses it
    const file = openSync('/proc/self/status', 'r');
    expectSystemError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, file, sys.EPOLLIN), 'EPERM', 'epoll_ctl');
    closeSync(file);
    // an epoll instance cannot watch itself
    expectSystemError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, ep, sys.EPOLLIN), 'EINVAL', 'epoll_ctl');
    closeAll(r, w);
    expectSystemError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, r, sys.EPOLLIN), 'EBADF', 'epoll_ctl');
    sys.close(ep);
    expectSystemError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, 0, sys.EPOLLIN), 'EBADF', 'epoll_ctl');
  });

  it('stores the 32-bit token and hands it back, including 0xffffffff', () => {
    const ep = sys.epoll_create1();
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, w, sys.EPOLLOUT, 0xffffffff);
    expect(sys.epoll_wait(ep, events, 0)).toBe(1);
    expect(events[0]).toBe(sys.EPOLLOUT);
    expect(events[1]).toBe(0xffffffff);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_MOD, w, sys.EPOLLOUT, 7);
    expect(sys.epoll_wait(ep, events, 0)).toBe(1);
    expect(events[1]).toBe(7);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_DEL, w);
    expect(sys.epoll_wait(ep, events, 0)).toBe(0);
    // the token defaults to the fd
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, w, sys.EPOLLOUT);
    expect(sys.epoll_wait(ep, events, 0)).toBe(1);
    expect(events[1]).toBe(w);
    closeAll(r, w, ep);
  });

  it('accepts masks that JavaScript made negative (EPOLLIN | EPOLLET)', () => {
    const mask = sys.EPOLLIN | sys.EPOLLET;
    expect(mask).toBeLessThan(0);
    const ep = sys.epoll_create1();
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, r, mask, 1);
    sys.write(w, Buffer.from('x'));
    expect(sys.epoll_wait(ep, events, 0)).toBe(1);
    closeAll(r, w, ep);
  });
});

describe('epoll_wait', () => {
  it('level-triggered reports again until drained; edge-triggered reports once per arrival', () => {
    const ep = sys.epoll_create1();
    const [lr, lw] = sys.pipe2(sys.O_NONBLOCK);
    const [er, ew] = sys.pipe2(sys.O_NONBLOCK);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, lr, sys.EPOLLIN, 1);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, er, sys.EPOLLIN | sys.EPOLLET, 2);
    sys.write(lw, Buffer.from('abcd'));
    sys.write(ew, Buffer.from('abcd'));
    const tokens = () => {
      const n = sys.epoll_wait(ep, events, 0);
      return Array.from({ length: n }, (_, i) => events[2 * i + 1]).sort();
    };
    expect(tokens()).toEqual([1, 2]);
    // nothing read: level-triggered fires again, edge-triggered stays quiet
    expect(tokens()).toEqual([1]);
    const buf = Buffer.alloc(2);
    sys.read(lr, buf);
    sys.read(er, buf); // still 2 bytes left in each
    expect(tokens()).toEqual([1]);
    sys.write(ew, Buffer.from('e')); // a new arrival re-arms the edge
    expect(tokens()).toEqual([1, 2]);
    sys.read(lr, Buffer.alloc(16));
    expect(tokens()).toEqual([]);
    closeAll(lr, lw, er, ew, ep);
  });

  it('EPOLLONESHOT reports once, then again only after EPOLL_CTL_MOD re-arms it', () => {
    const ep = sys.epoll_create1();
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, r, sys.EPOLLIN | sys.EPOLLONESHOT, 5);
    sys.write(w, Buffer.from('x'));
    expect(sys.epoll_wait(ep, events, 0)).toBe(1);
    expect(sys.epoll_wait(ep, events, 0)).toBe(0);
    sys.write(w, Buffer.from('y'));
    expect(sys.epoll_wait(ep, events, 0)).toBe(0);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_MOD, r, sys.EPOLLIN | sys.EPOLLONESHOT, 5);
    expect(sys.epoll_wait(ep, events, 0)).toBe(1);
    expect(events[1]).toBe(5);
    closeAll(r, w, ep);
  });

  it('reports EPOLLRDHUP when the peer shuts down its writing side', () => {
    const [c, s] = tcpPair();
    const ep = sys.epoll_create1();
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, s, sys.EPOLLIN | sys.EPOLLRDHUP, 1);
    expect(sys.epoll_wait(ep, events, 0)).toBe(0);
    sys.shutdown(c, sys.SHUT_WR);
    expect(sys.epoll_wait(ep, events, 1000)).toBe(1);
    expect(events[0]! & sys.EPOLLRDHUP).toBeTruthy();
    expect(events[0]! & sys.EPOLLIN).toBeTruthy(); // EOF is readable
    expect(sys.read(s, Buffer.alloc(8))).toBe(0);
    closeAll(c, s, ep);
  });

  it('an epoll instance is itself an fd: the outer set sees the inner one become readable', () => {
    const outer = sys.epoll_create1();
    const inner = sys.epoll_create1();
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    sys.epoll_ctl(inner, sys.EPOLL_CTL_ADD, r, sys.EPOLLIN, 11);
    sys.epoll_ctl(outer, sys.EPOLL_CTL_ADD, inner, sys.EPOLLIN, 22);
    expect(sys.epoll_wait(outer, events, 0)).toBe(0);
    sys.write(w, Buffer.from('x'));
    expect(sys.epoll_wait(outer, events, 1000)).toBe(1);
    expect(events[1]).toBe(22);
    expect(sys.epoll_wait(inner, events, 0)).toBe(1);
    expect(events[1]).toBe(11);
    closeAll(r, w, inner, outer);
  });

  it('returns at most capacity events per call, the rest on the next calls', () => {
    const ep = sys.epoll_create1();
    const pipes = Array.from({ length: 5 }, () => sys.pipe2(sys.O_NONBLOCK));
    pipes.forEach(([, w], i) => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, w, sys.EPOLLOUT, 100 + i));
    const small = new Uint32Array(4); // capacity 2
    const seen = new Set<number>();
    for (let k = 0; k < 3; k++) {
      const n = sys.epoll_wait(ep, small, 0);
      expect(n).toBeLessThanOrEqual(2);
      for (let i = 0; i < n; i++) seen.add(small[2 * i + 1]!);
    }
    expect(seen.size).toBe(5); // the kernel rotates through the ready list
    pipes.forEach(([r, w]) => closeAll(r, w));
    sys.close(ep);
  });

  it('sleeps for the timeout when nothing is ready', () => {
    const ep = sys.epoll_create1();
    const t0 = process.hrtime.bigint();
    expect(sys.epoll_wait(ep, events, 30)).toBe(0);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(ms).toBeGreaterThanOrEqual(30);
    expect(ms).toBeLessThan(1000);
    sys.close(ep);
  });

  it('epoll_pwait2 honours sub-millisecond timeouts', () => {
    const ep = sys.epoll_create1();
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = process.hrtime.bigint();
      expect(sys.epoll_pwait2(ep, events, 200_000)).toBe(0); // 200 µs
      samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    samples.sort((a, b) => a - b);
    expect(samples[0]).toBeGreaterThanOrEqual(200); // never early
    expect(samples[25]).toBeLessThan(1000); // typically ~250 µs: epoll_wait would round up to 1 ms
    expect(sys.epoll_pwait2(ep, events, 0)).toBe(0);
    sys.close(ep);
  });

  it('epoll_spin looks until the deadline without sleeping, or returns the first events', () => {
    const ep = sys.epoll_create1();
    const nowNs = (): number => sys.clock_gettime(sys.CLOCK_MONOTONIC);
    // A deadline already past: exactly one look.
    expect(sys.epoll_spin(ep, events, 0)).toBe(0);
    // Nothing ready: back at (never before) the deadline, 2 ms on, having used the CPU all along.
    const cpu0 = process.cpuUsage();
    const until = nowNs() + 2e6;
    expect(sys.epoll_spin(ep, events, until)).toBe(0);
    expect(nowNs()).toBeGreaterThanOrEqual(until);
    const cpu = process.cpuUsage(cpu0);
    // µs: it spun, it did not sleep (a sleep costs ~0; a loaded machine may take some of the 2 ms away)
    expect(cpu.user + cpu.system).toBeGreaterThan(400);
    // Something becomes ready during the stretch: a timerfd due 1 ms in, deadline 5 s away.
    const tfd = sys.timerfd_create(sys.CLOCK_MONOTONIC, sys.TFD_NONBLOCK);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, tfd, sys.EPOLLIN, 77);
    sys.timerfd_settime(tfd, 0, { value: 1e6, interval: 0 });
    const far = nowNs() + 5e9;
    expect(sys.epoll_spin(ep, events, far)).toBe(1);
    expect(nowNs()).toBeLessThan(far);
    expect([events[0], events[1]]).toEqual([sys.EPOLLIN, 77]);
    // Ready before the call: returned at once, as epoll_wait(…, 0) would.
    expect(sys.epoll_spin(ep, events, far)).toBe(1);
    closeAll(tfd, ep);
  });

  it('retries EINTR with the time left, not the whole timeout again (epoll_wait, epoll_pwait2, poll)', async () => {
    process.on('SIGUSR2', () => {});
    // a child sends SIGUSR2 every 5 ms for ~150 ms while we sleep 100 ms in epoll_wait
    const child = spawn('bash', ['-c', `for i in $(seq 45); do kill -USR2 ${process.pid} 2>/dev/null; sleep 0.005; done`], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 20));
    const ep = sys.epoll_create1();
    const waits = [
      (t: number) => sys.epoll_wait(ep, events, t),
      (t: number) => sys.epoll_pwait2(ep, events, t * 1e6),
      (t: number) => sys.poll(new Int32Array(0), t),
    ];
    for (const wait of waits) {
      const t0 = process.hrtime.bigint();
      expect(wait(60)).toBe(0);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(ms).toBeGreaterThanOrEqual(60);
      expect(ms).toBeLessThan(110); // restarting the full 60 ms after each signal would take > 150 ms
    }
    sys.close(ep);
    await new Promise((r) => child.on('exit', r));
    process.removeAllListeners('SIGUSR2');
  });

  it('fills an ArrayBuffer as the Uint32Array it backs (what the loop passes)', () => {
    const ep = sys.epoll_create1();
    const e = sys.eventfd(1, sys.EFD_NONBLOCK);
    sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, e, sys.EPOLLIN, 77);
    const view = new Uint32Array(4);
    expect(sys.epoll_wait(ep, view.buffer, 0)).toBe(1);
    expect([view[0], view[1]]).toEqual([sys.EPOLLIN, 77]);
    view.fill(0);
    expect(sys.epoll_pwait2(ep, view.buffer, 0)).toBe(1);
    expect(view[1]).toBe(77);
    view.fill(0);
    expect(sys.epoll_spin(ep, view.buffer, 0)).toBe(1);
    expect(view[1]).toBe(77);
    // 12 bytes are 3 words: an odd event array
    expectArgError(() => sys.epoll_wait(ep, new ArrayBuffer(12), 0), RangeError, 'events.length');
    expectArgError(() => sys.epoll_wait(ep, new SharedArrayBuffer(16) as never, 0), TypeError, 'events');
    sys.close(e);
    sys.close(ep);
  });

  it('rejects bad arguments before any syscall', () => {
    const ep = sys.epoll_create1();
    expectArgError(() => sys.epoll_wait(ep, new Uint32Array(3), 0), RangeError, 'events.length');
    expectArgError(() => sys.epoll_wait(ep, new Uint32Array(0), 0), RangeError, 'events.length');
    expectArgError(() => sys.epoll_wait(ep, new Int32Array(4) as unknown as Uint32Array, 0), TypeError, 'events');
    expectArgError(() => sys.epoll_wait(ep, [] as unknown as Uint32Array, 0), TypeError, 'events');
    expectArgError(() => sys.epoll_wait(ep, events, 1.5), RangeError, 'timeout');
    expectArgError(() => sys.epoll_wait(ep, events, -2), RangeError, 'timeout');
    expectArgError(() => sys.epoll_wait(ep, events, 2 ** 31), RangeError, 'timeout');
    expectArgError(() => sys.epoll_wait(ep, events, Number.NaN), RangeError, 'timeout');
    expectArgError(() => sys.epoll_wait(ep, events, '5' as unknown as number), TypeError, 'timeout');
    expectArgError(() => sys.epoll_pwait2(ep, events, -5), RangeError, 'timeoutNs');
    expectArgError(() => sys.epoll_pwait2(ep, events, 2 ** 63), RangeError, 'timeoutNs');
    expectArgError(() => sys.epoll_spin(ep, events, -1), RangeError, 'untilNs');
    expectArgError(() => sys.epoll_spin(ep, events, 2 ** 63), RangeError, 'untilNs');
    expectArgError(() => sys.epoll_spin(ep, events, 1.5), RangeError, 'untilNs');
    expectArgError(() => sys.epoll_spin(ep, new Uint32Array(3), 0), RangeError, 'events.length');
    expectArgError(() => sys.epoll_spin(ep, {} as unknown as Uint32Array, 0), TypeError, 'events');
    expectArgError(() => sys.epoll_spin(ep, events, '0' as unknown as number), TypeError, 'untilNs');
    expectArgError(() => sys.epoll_wait(-1, events, 0), RangeError, 'epfd');
    expectArgError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, 1.5, 1), RangeError, 'fd');
    expectArgError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, 0, 2 ** 32), RangeError, 'events');
    expectArgError(() => sys.epoll_ctl(ep, sys.EPOLL_CTL_ADD, 0, 1, -1), RangeError, 'data');
    expectArgError(() => sys.epoll_ctl('3' as unknown as number, 1, 0, 1), TypeError, 'epfd');
    expectSystemError(() => sys.epoll_ctl(ep, 99, 0, 1), 'EINVAL', 'epoll_ctl');
    sys.close(ep);
    expectSystemError(() => sys.epoll_wait(ep, events, 0), 'EBADF', 'epoll_wait');
    expectSystemError(() => sys.epoll_spin(ep, events, 0), 'EBADF', 'epoll_wait');
  });
});
