// loop.stats() and the flight recorder (loop.trace).
import { describe, expect, it } from 'vitest';
import { freshLoopEachTest, pkg } from './helpers';

const { Loop, sys } = pkg;
type Loop = InstanceType<typeof Loop>;

let loop: Loop;
freshLoopEachTest((l) => {
  loop = l;
});

describe('loop.trace', () => {
  it('records each sleep’s timeout, the timer that chose it, the events and the callbacks', async () => {
    loop.trace.start();
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    try {
      const watcher = loop.watch(r, sys.EPOLLIN, () => {
        sys.read(r, Buffer.alloc(16));
        watcher.close();
      });
      // Delays long enough that a stalled machine (a sanitizer build on a busy CI box) still
      // reaches the first sleep before the first timer is due.
      const t100 = loop.setTimeout(() => sys.write(w, Buffer.from('x')), 100);
      loop.setTimeout(() => {}, 150);
      // runOnce, not run(): run() also wakes for the test runner's own loop (its fd is in our
      // set), and those wake-ups would end the sleeps this test reads early.
      while (loop.runOnce());
      loop.trace.stop();
      const its = loop.trace.records();
      // the first sleep was chosen by the 100 ms timer: its timeout is what was left of it then,
      // less the default spinUs (50 µs), polled for rather than slept
      const first = its.find((i) => i.reason === 'timer')!;
      expect(first.timerSeq).toBe(t100.seq);
      expect(first.timerDelay).toBe(100);
      expect(first.lead).toBe(0.05); // a new loop has learnt no wake-up latency yet
      expect(first.timeout).toBeLessThanOrEqual(100);
      expect(first.timeout).toBeCloseTo(t100.deadline - first.start - 0.05, 3);
      expect(first.slept).toBeGreaterThanOrEqual(first.timeout - 0.001);
      // the timer fired (lateness ≥ 0), then the pipe's event reached the watcher
      const timerCb = its.flatMap((i) => i.callbacks).find((c) => c.kind === 'timer')!;
      expect(timerCb.detail).toBeGreaterThanOrEqual(0);
      const ioIt = its.find((i) => i.events.length > 0)!;
      expect(ioIt.events).toEqual([r, sys.EPOLLIN]);
      expect(ioIt.callbacks[0]).toMatchObject({ kind: 'io', id: r, detail: sys.EPOLLIN });
      // the loop's own alarm (its timerfd) ended the sleeps: it shows as 'alarm', never as I/O
      const all = its.flatMap((i) => i.callbacks);
      const alarm = all.find((c) => c.kind === 'alarm');
      expect(alarm).toBeDefined();
      expect(all.some((c) => c.kind === 'io' && c.id === alarm!.id)).toBe(false);
      // the last sleep waited for the 150 ms timer
      expect(its.at(-1)!.callbacks.some((c) => c.kind === 'timer')).toBe(true);
      const text = loop.trace.toText();
      expect(text).toMatch(new RegExp(`timeout \\d+\\.\\d+ ms \\[timer #${t100.seq} \\(100 ms\\) is next, alarm 0\\.050 ms early\\]`));
      expect(text).toMatch(new RegExp(`fd ${r} IN`));
      const chrome = loop.trace.toChromeTrace();
      expect(chrome.traceEvents.length).toBeGreaterThan(its.length);
      for (const e of chrome.traceEvents as { ph: string; ts: number; dur: number; name: string }[]) {
        expect(e.ph).toBe('X');
        expect(Number.isFinite(e.ts) && e.dur >= 1).toBe(true);
      }
      JSON.parse(JSON.stringify(chrome));
    } finally {
      sys.close(r);
      sys.close(w);
    }
  });

  it('keeps only the last `limit` iterations, records nothing when stopped, and says −1 with no timers', () => {
    loop.trace.start({ limit: 10 });
    for (let i = 0; i < 50; i++) {
      loop.setImmediate(() => {});
      loop.runNoWait();
    }
    expect(loop.trace.records()).toHaveLength(10);
    expect(loop.trace.recorded).toBe(50);
    expect(loop.trace.records().map((i) => i.index)).toEqual(Array.from({ length: 10 }, (_, k) => 41 + k));
    expect(loop.trace.records().every((i) => i.reason === 'immediates')).toBe(true);
    loop.trace.stop();
    loop.setImmediate(() => {});
    loop.runNoWait();
    expect(loop.trace.recorded).toBe(50);
    expect(() => loop.trace.start({ limit: 0 })).toThrow(RangeError);
    loop.trace.start();
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const watcher = loop.watch(r, sys.EPOLLIN, () => sys.read(r, Buffer.alloc(1)));
    sys.write(w, Buffer.from('x'));
    loop.runOnce();
    expect(loop.trace.records()[0]).toMatchObject({ timeout: -1, reason: 'no-timers' });
    watcher.close();
    sys.close(r);
    sys.close(w);
  });
});

describe('loop.stats()', () => {
  it('counts iterations, wake-ups by cause, events, sleep, timers and their lateness', async () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const watcher = loop.watch(r, sys.EPOLLIN, () => {
      sys.read(r, Buffer.alloc(16));
    });
    loop.setTimeout(() => sys.write(w, Buffer.from('abc')), 5);
    loop.setTimeout(() => watcher.close(), 100);
    for (let i = 0; i < 5; i++) loop.setTimeout(() => {}, 1 + i);
    loop.stats({ reset: true });
    await loop.run();
    const s = loop.stats();
    expect(s.iterations).toBeGreaterThanOrEqual(3);
    expect(s.wakeups.io).toBe(1);
    expect(s.wakeups.timer).toBeGreaterThanOrEqual(2);
    expect(s.events.delivered).toBe(1);
    expect(s.events.perWakeupMax).toBe(1);
    expect(s.timers.fired).toBe(7);
    expect(s.timers.lateness.early).toBe(0);
    expect(s.timers.lateness.p50).toBeGreaterThanOrEqual(0);
    expect(s.timers.lateness.p99).toBeGreaterThanOrEqual(s.timers.lateness.p50);
    expect(s.timers.lateness.max).toBeGreaterThanOrEqual(s.timers.lateness.p99 - 1e-9);
    expect(s.time.asleep).toBeGreaterThan(40); // it slept most of the ~100 ms (a margin for a stalled machine)
    expect(s.time.asleepShare).toBeGreaterThan(0.3);
    expect(s.alive).toEqual({ watchers: 0, timers: 0, immediates: 0, refs: 0 });
    sys.close(r);
    sys.close(w);
  });
});
