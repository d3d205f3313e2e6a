// Timers and immediates on the reactor: order, counts, precision (never early), intervals,
// nextTimeout(), bounded memory.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { expectArgError, freshLoopEachTest, hrms, pkg, runScript, spin, sys } from './helpers';

const { Loop, TIMEOUT_MAX } = pkg;
type Loop = InstanceType<typeof Loop>;

let loop: Loop;
freshLoopEachTest((l) => {
  loop = l;
});

describe('timers', () => {
  it('fire in start order when deadlines are equal', async () => {
    const order: number[] = [];
    // Same delay, started in one synchronous run: most get distinct deadlines, but ties must
    // still come out in start order, and so must the whole sequence.
    for (let i = 0; i < 50; i++) loop.setTimeout(() => order.push(i), 2);
    await loop.run();
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('ten one-shots, a repeat closed on its fifth call and a stopped timer give 10/5/0 calls', async () => {
    let once = 0;
    let repeat = 0;
    let stopped = 0;
    for (let i = 0; i < 10; i++) loop.setTimeout(() => once++, i);
    const iv = loop.setInterval(() => {
      if (++repeat === 5) loop.clearInterval(iv);
    }, 1);
    const never = loop.setTimeout(() => stopped++, 5);
    loop.clearTimeout(never);
    await loop.run();
    expect([once, repeat, stopped]).toEqual([10, 5, 0]);
    expect(iv.pending).toBe(false);
  });

  it('never fire early: thousands of samples over 1–50 ms, measured with process.hrtime', async () => {
    const samples = 3000;
    let early = 0;
    let worst = Number.POSITIVE_INFINITY;
    let fired = 0;
    for (let i = 0; i < samples; i++) {
      const delay = 1 + (i % 50) + (i % 7) / 7; // whole and fractional milliseconds
      const start = hrms();
      loop.setTimeout(() => {
        const lateness = hrms() - start - delay;
        if (lateness < 0) early++;
        worst = Math.min(worst, lateness);
        fired++;
      }, delay);
    }
    await loop.run();
    expect(fired).toBe(samples);
    expect(early).toBe(0);
    expect(worst).toBeGreaterThanOrEqual(0);
    expect(loop.stats().timers.lateness.early).toBe(0);
  });

  it('a 0 ms timer re-armed by its own callback runs once per iteration and cannot starve I/O', () => {
    let timerCalls = 0;
    const rearm = (): void => {
      timerCalls++;
      loop.setTimeout(rearm, 0);
    };
    loop.setTimeout(rearm, 0);
    const [r, w] = pkg.sys.pipe2(pkg.sys.O_NONBLOCK);
    let reads = 0;
    const watcher = loop.watch(r, pkg.sys.EPOLLIN, () => {
      reads++;
      pkg.sys.read(r, Buffer.alloc(1)); // one byte per iteration: stays readable
    });
    pkg.sys.write(w, Buffer.alloc(20));
    for (let i = 0; i < 20; i++) loop.runOnce();
    expect(timerCalls).toBeGreaterThanOrEqual(19);
    expect(timerCalls).toBeLessThanOrEqual(20);
    expect(reads).toBe(20);
    watcher.close();
    pkg.sys.close(r);
    pkg.sys.close(w);
  });

  it('a flooding pipe cannot starve a 10 ms timer', async () => {
    const [r, w] = pkg.sys.pipe2(pkg.sys.O_NONBLOCK);
    const chunk = Buffer.alloc(4096);
    const buf = Buffer.alloc(65536);
    // The writer is always writable and the reader always readable: the loop never sleeps.
    const writer = loop.watch(w, pkg.sys.EPOLLOUT, () => pkg.sys.write(w, chunk));
    const reader = loop.watch(r, pkg.sys.EPOLLIN, () => pkg.sys.read(r, buf));
    const start = hrms();
    let firedAfter = -1;
    loop.setTimeout(() => {
      firedAfter = hrms() - start;
      writer.close();
      reader.close();
    }, 10);
    await loop.run();
    expect(firedAfter).toBeGreaterThanOrEqual(10);
    expect(firedAfter).toBeLessThan(200);
    pkg.sys.close(r);
    pkg.sys.close(w);
  });

  it('intervals keep their phase and skip the beats missed while the loop was busy', async () => {
    // Checked on the deadlines the timer fired for, not on wall-clock gaps between callbacks: a
    // loaded machine may run any callback late, but the beats stay on the grid D0 + k·10 ms.
    const clock = () => sys.clock_gettime(sys.CLOCK_MONOTONIC) / 1e6; // the deadlines' clock
    const beats: number[] = [];
    const ranAt: number[] = [];
    const iv = loop.setInterval(() => {
      beats.push(iv.deadline);
      ranAt.push(clock());
      if (beats.length === 1) spin(35); // miss the beats at D0+10, D0+20 and D0+30
      if (beats.length === 3) iv.close();
    }, 10);
    await loop.run();
    expect(beats).toHaveLength(3);
    const [d0, d1, d2] = beats as [number, number, number];
    const onGrid = (d: number) => Math.abs((d - d0) / 10 - Math.round((d - d0) / 10)) < 1e-6;
    expect(onGrid(d1) && onGrid(d2)).toBe(true); // the phase kept: no drift from late callbacks
    expect(d1 - d0).toBeGreaterThanOrEqual(40 - 1e-6); // the beats inside the 35 ms spin skipped…
    expect(d2 - d1).toBeGreaterThanOrEqual(10 - 1e-6); // …not replayed in a burst afterwards
    for (let i = 0; i < 3; i++) expect(ranAt[i]!).toBeGreaterThanOrEqual(beats[i]!); // never early
  });

  it('refresh() restarts a timer from now, and re-arms one that already fired', async () => {
    let calls = 0;
    const start = hrms();
    let at = 0;
    const t = loop.setTimeout(() => {
      calls++;
      at = hrms() - start;
    }, 20);
    loop.setTimeout(() => t.refresh(), 10); // now due at ~30
    await loop.run();
    expect(calls).toBe(1);
    expect(at).toBeGreaterThanOrEqual(30);
    t.refresh();
    expect(t.pending).toBe(true);
    await loop.run();
    expect(calls).toBe(2);
  });

  it('passes extra arguments and `this`, like Node', async () => {
    const got: unknown[] = [];
    const t = loop.setTimeout(
      function (this: unknown, a: number, b: string) {
        got.push(this, a, b);
      },
      0,
      1,
      'x',
    );
    loop.setImmediate((c: number) => got.push(c), 3);
    await loop.run();
    expect(got).toEqual([3, t, 1, 'x']);
  });

  it('treats NaN, negative and junk delays as 1 ms, keeps 0 and fractions, never fires huge ones early', () => {
    const now = loop.updateTime();
    for (const bad of [Number.NaN, -5, undefined, 'soon'] as unknown as number[]) {
      const t = loop.setTimeout(() => {}, bad);
      expect(t.delay).toBe(1);
      expect(t.deadline - now).toBeGreaterThanOrEqual(1);
      t.close();
    }
    const five = loop.setTimeout(() => {}, '5' as unknown as number);
    expect(five.delay).toBe(5);
    five.close();
    const zero = loop.setTimeout(() => {}, 0);
    expect(zero.delay).toBe(0);
    zero.close();
    const frac = loop.setTimeout(() => {}, 0.25);
    expect(frac.delay).toBe(0.25);
    frac.close();
    // Node would turn this into 1 ms (firing it ~2^40 ms early); we keep it, and clamp each sleep
    const huge = loop.setTimeout(() => {
      throw new Error('fired early');
    }, 2 ** 40);
    expect(loop.nextTimeout()).toBe(2 ** 31 - 1);
    const inf = loop.setTimeout(() => {
      throw new Error('fired');
    }, Number.POSITIVE_INFINITY);
    huge.unref();
    inf.unref();
    expect(loop.runNoWait()).toBe(false);
    expect(huge.pending && inf.pending).toBe(true);
    expect(TIMEOUT_MAX).toBe(2 ** 31 - 1);
  });

  it('rejects callbacks that are not functions', () => {
    expectArgError(() => loop.setTimeout('x' as unknown as () => void, 1), TypeError, 'callback');
    expectArgError(() => loop.setInterval(null as unknown as () => void, 1), TypeError, 'callback');
    expectArgError(() => loop.setImmediate({} as unknown as () => void), TypeError, 'callback');
    loop.clearTimeout(undefined);
    loop.clearTimeout({} as never);
    loop.clearImmediate(null);
  });

  it('holds memory bounded by live timers: 10^5 created and cancelled, ten times over', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const round = (): void => {
      const ts = [];
      for (let i = 0; i < 100_000; i++) ts.push(loop.setTimeout(() => {}, 1000 + (i % 977)));
      expect(loop.stats().alive.timers).toBe(100_000);
      // cancel in a scattered order: removal from the middle of the heap
      for (let i = 0; i < ts.length; i += 2) ts[i]!.close();
      for (let i = 1; i < ts.length; i += 2) loop.clearTimeout(ts[i]);
      expect(loop.stats().alive.timers).toBe(0);
    };
    round();
    gc();
    const base = process.memoryUsage().heapUsed;
    for (let k = 0; k < 9; k++) round();
    gc();
    expect(process.memoryUsage().heapUsed - base).toBeLessThan(8 * 1024 * 1024);
    expect(loop.alive).toBe(false);
  });
});

describe('nextTimeout()', () => {
  it('follows the nearest non-cancelled timer, 0 with immediates or stop(), −1 with none', () => {
    // The timeout is the timer's deadline, less the alarm's lead (spinUs 50 plus a learnt
    // wake-up latency of at most 200 µs), less the clock when it was asked: bracketed by clock
    // reads on each side, so a stall between two statements (a loaded machine) cannot fail it.
    const MAX_LEAD = 0.05 + 0.2;
    const towards = (t: { deadline: number }): void => {
      const before = pkg.sys.clock_gettime(pkg.sys.CLOCK_MONOTONIC) / 1e6;
      const ms = loop.nextTimeout();
      const after = pkg.sys.clock_gettime(pkg.sys.CLOCK_MONOTONIC) / 1e6;
      expect(ms).toBeGreaterThanOrEqual(t.deadline - after - MAX_LEAD - 1e-6);
      expect(ms).toBeLessThanOrEqual(t.deadline - before + 1e-6);
    };
    expect(loop.nextTimeout()).toBe(-1);
    const a = loop.setTimeout(() => {}, 100);
    towards(a);
    const b = loop.setTimeout(() => {}, 50);
    towards(b);
    b.close();
    towards(a);
    const im = loop.setImmediate(() => {});
    expect(loop.nextTimeout()).toBe(0);
    loop.clearImmediate(im);
    towards(a);
    loop.stop();
    expect(loop.nextTimeout()).toBe(0);
    loop.runNoWait(); // consumes the stop request
    towards(a);
    a.close();
    expect(loop.nextTimeout()).toBe(-1);
    // rounded up, never down: the value is a whole number of nanoseconds at least the distance
    const c = loop.setTimeout(() => {}, 1.0000004);
    const ms = loop.nextTimeout();
    expect(Math.abs(ms * 1e6 - Math.round(ms * 1e6))).toBeLessThan(1e-3);
    c.close();
  });
});

describe('immediates', () => {
  it('run after I/O in FIFO order; those queued by an immediate wait for the next iteration', () => {
    const log: string[] = [];
    loop.setImmediate(() => {
      log.push('a');
      loop.setImmediate(() => log.push('c'));
    });
    loop.setImmediate(() => log.push('b'));
    const cleared = loop.setImmediate(() => log.push('never'));
    loop.clearImmediate(cleared);
    expect(loop.runNoWait()).toBe(true); // 'c' is still pending
    expect(log).toEqual(['a', 'b']);
    expect(loop.runNoWait()).toBe(false);
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('lets go of cleared immediates at the next iteration, even when none of them ran, and of a burst’s queue', async () => {
    // In a child of its own (a clean heap to measure): a burst of 100,000 immediates, every one
    // cleared at once. None is pending, so no immediate runs; the next iteration must still
    // drop them, and the burst-sized queue. Held, they are ~9 MB.
    const r = await runScript(`
      const { setFlagsFromString } = require('node:v8');
      setFlagsFromString('--expose-gc');
      const gc = require('node:vm').runInNewContext('gc');
      const loop = new pkg.Loop();
      const noop = () => {};
      gc();
      const base = process.memoryUsage().heapUsed;
      loop.setTimeout(() => {
        for (let i = 0; i < 100000; i++) loop.clearImmediate(loop.setImmediate(noop));
        loop.setTimeout(noop, 5); // so that there is a next iteration
      }, 1);
      loop.run().then(() => {
        gc();
        console.log(process.memoryUsage().heapUsed - base);
      });
    `);
    expect(r.code).toBe(0);
    expect(Number(r.stdout.trim())).toBeLessThan(512 * 1024);
  });
});
