// The attached driver: our loop inside Node's libuv loop (uv_poll_t on the epoll fd, timers on a
// timerfd in our own set).
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freshLoopEachTest, hrms, pkg, runScript, sleep, spin, tcpPair } from './helpers';
import { monotonicMs } from '../dist/lib/reactor/clock.js';
import { WaitPolicy } from '../dist/lib/reactor/wait-policy.js';
import { DeadlineTimer } from '../dist/lib/reactor/deadline.js';

const { Loop, sys } = pkg;
type Loop = InstanceType<typeof Loop>;

let loop: Loop;
freshLoopEachTest((l) => {
  loop = l;
});

describe('attach()', () => {
  it('runs our timers, watchers and immediates beside Node timers, fs.promises and net', async () => {
    loop.attach();
    expect(loop.driver).toBe('attached');
    const log: string[] = [];
    // Node's own: a timer, a file read (thread pool), a TCP echo over Node's net
    const nodeTimer = new Promise<void>((r) => setTimeout(() => r(log.push('node timer') as never), 5));
    const file = readFile('/proc/self/status', 'utf8').then((s) => log.push(`fs ${s.length > 0}`));
    const server = net.createServer((s) => s.pipe(s)).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const echo = new Promise<void>((resolve) => {
      const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => c.write('hi'));
      c.on('data', (d) => {
        log.push(`node net ${d}`);
        c.end();
      });
      c.on('close', () => resolve()); // fully closed before the fd check
    });
    // ours: a timer, an immediate, a watcher on a socket
    const ours = new Promise<void>((r) => loop.setTimeout(() => r(log.push('our timer') as never), 10));
    const imm = new Promise<void>((r) => loop.setImmediate(() => r(log.push('our immediate') as never)));
    const [a, b] = tcpPair();
    const watched = new Promise<void>((resolve) => {
      const w = loop.watch(b, sys.EPOLLIN, () => {
        const buf = Buffer.alloc(8);
        log.push(`our watcher ${buf.subarray(0, sys.read(b, buf))}`);
        w.close();
        resolve();
      });
    });
    sys.write(a, Buffer.from('yo'));
    await Promise.all([nodeTimer, file, echo, ours, imm, watched]);
    expect(log.sort()).toEqual(
      ['fs true', 'node net hi', 'node timer', 'our immediate', 'our timer', 'our watcher yo'].sort(),
    );
    await new Promise((r) => server.close(r));
    sys.close(a);
    sys.close(b);
    loop.detach();
    expect(loop.driver).toBe('none');
  });

  it('fires our timers on time from inside Node’s loop, never early', async () => {
    loop.attach();
    const lateness: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const delay = 1 + (i % 20) + (i % 3) / 3;
        const start = hrms();
        return new Promise<void>((r) =>
          loop.setTimeout(() => {
            lateness.push(hrms() - start - delay);
            r();
          }, delay),
        );
      }),
    );
    expect(Math.min(...lateness)).toBeGreaterThanOrEqual(0);
    expect(loop.stats().timers.lateness.early).toBe(0);
    loop.detach();
  });

  it('polls through the last spinUs before a timer, as standalone: the alarm rings early, the timer fires in the spin', async () => {
    const fired = async (spinUs: number): Promise<string[]> => {
      const l = new Loop({ spinUs });
      try {
        l.attach();
        l.trace.start();
        const start = hrms();
        let late = -1;
        await new Promise<void>((r) =>
          l.setTimeout(() => {
            late = hrms() - start - 30;
            r();
          }, 30),
        );
        l.trace.stop();
        expect(late).toBeGreaterThanOrEqual(0);
        return l.trace.toText().split('\n');
      } finally {
        l.close({ force: true });
      }
    };
    // spinUs 10 ms: Node's loop wakes us 10 ms early (a margin for a slow machine, where Node
    // may wake us late); that turn runs nothing, then polls (a [peek] iteration) until the
    // deadline and fires the timer there.
    const spun = await fired(10_000);
    const at = spun.findIndex((line) => line.includes('[peek]') && line.includes('timer #'));
    expect(at).toBeGreaterThan(0);
    expect(spun[at - 1]).not.toContain('timer #');
    // spinUs 0: no polling; the timer fires from the turn Node's loop woke us for.
    const slept = await fired(0);
    expect(slept.some((line) => line.includes('[peek]'))).toBe(false);
    expect(slept.some((line) => line.includes('timer #'))).toBe(true);
  });

  it('learns the wake-up latency of Node’s loop as standalone does, and wakes Node that much earlier', async () => {
    const l = new Loop();
    try {
      l.attach();
      for (let i = 0; i < 40; i++) {
        const due = hrms() + 2;
        const firedAt = await new Promise<number>((r) => l.setTimeout(() => r(hrms()), 2));
        expect(firedAt).toBeGreaterThanOrEqual(due);
      }
      // Each alarm woke Node's loop, then us: that took some time, learnt 1 µs at a time (40
      // timers, two alarms each — a pre-wake and the last: at most 80 µs, give or take the
      // rounding of 80 additions of 0.001).
      const learnt = l.stats().timers.wakeLatency;
      expect(learnt).toBeGreaterThan(0);
      expect(learnt).toBeLessThanOrEqual(0.08 + 1e-9);
    } finally {
      l.close({ force: true });
    }
  });

  it('wakes Node 250 µs before the lead for a timer 0.4–100 ms away (a pre-wake), then at the lead', async () => {
    const l = new Loop();
    const still = new Loop({ spinUs: 0 });
    try {
      l.attach();
      still.attach();
      // A new loop has learnt no wake-up latency: the lead is spinUs, 50 µs. (The policy the
      // attached driver arms its alarm with, asked directly: WaitPolicy.wakeAt.)
      const policy = new WaitPolicy(0.05, true);
      const t = l.setTimeout(() => {}, 20);
      expect(policy.wakeAt(monotonicMs(), t.deadline, false)).toBeCloseTo(t.deadline - 0.3, 6);
      t.close();
      const far = l.setTimeout(() => {}, 150);
      expect(policy.wakeAt(monotonicMs(), far.deadline, false)).toBeCloseTo(far.deadline - 0.05, 6); // 100 ms or more: none
      far.close();
      const t4 = still.setTimeout(() => {}, 20);
      expect(new WaitPolicy(0, true).wakeAt(monotonicMs(), t4.deadline, false)).toBe(t4.deadline); // spinUs 0: to the deadline, no lead
      t4.close();
      expect(policy.wakeAt(monotonicMs(), t4.deadline, true)).toBe(0); // work pending: at once
      expect(policy.wakeAt(monotonicMs(), -1, false)).toBe(-1); // no timer: never
      // What the driver arms, recorded: for a timer 5 ms away the alarm is armed 0.3 ms early (the
      // pre-wake); the pre-wake's turn finds nothing due and, when it came before the lead, re-arms
      // the alarm at the lead (0.05 ms early), whose turn polls to the deadline. How late a wake-up
      // is depends on the machine's load (a pre-wake over 250 µs late is past the lead already), so
      // the re-arm is checked whenever the pre-wake came in time, and must have come so at least
      // once in ten timers.
      const arms: { at: number; calledAt: number }[] = [];
      const realArm = DeadlineTimer.prototype.arm;
      DeadlineTimer.prototype.arm = function (this: InstanceType<typeof DeadlineTimer>, at: number) {
        arms.push({ at, calledAt: monotonicMs() });
        realArm.call(this, at);
      };
      let inTime = 0;
      try {
        for (let i = 0; i < 10 && inTime < 2; i++) {
          arms.length = 0;
          const due = hrms() + 5;
          let deadline = 0;
          const firedAt = await new Promise<number>((done) => {
            deadline = l.setTimeout(() => done(hrms()), 5).deadline;
          });
          expect(firedAt).toBeGreaterThanOrEqual(due);
          // the first arm: PRE_WAKE_MS (0.25 ms) before the lead (spinUs plus the learnt latency)
          const pre = arms.findIndex((a) => a.at > 0);
          expect(pre, JSON.stringify({ deadline, arms })).toBeGreaterThanOrEqual(0);
          expect(deadline - arms[pre]!.at).toBeGreaterThanOrEqual(0.25 + 0.05 - 1e-6);
          const next = arms[pre + 1];
          if (next !== undefined && next.at > 0 && next.calledAt < next.at) {
            // then at the lead: 0.25 ms later, give or take the learnt latency's step since
            expect(next.at - arms[pre]!.at).toBeGreaterThan(0.2);
            expect(next.at - arms[pre]!.at).toBeLessThan(0.3);
            expect(next.at).toBeLessThan(deadline);
            inTime++;
          }
        }
      } finally {
        DeadlineTimer.prototype.arm = realArm;
      }
      expect(inTime).toBeGreaterThan(0);
    } finally {
      l.close({ force: true });
      still.close({ force: true });
    }
  });

  it('drains process.nextTick then promise jobs after each batch, as after Node’s own callbacks', async () => {
    loop.attach();
    const log: string[] = [];
    await new Promise<void>((done) => {
      loop.setTimeout(() => {
        log.push('timer');
        Promise.resolve().then(() => log.push('promise'));
        process.nextTick(() => log.push('tick'));
        loop.setImmediate(() => {
          log.push('immediate');
          done();
        });
      }, 1);
    });
    expect(log).toEqual(['timer', 'tick', 'promise', 'immediate']);
    loop.detach();
  });

  it('detach() hands the loop back: run() works again, and re-attaching works', async () => {
    loop.attach();
    expect(() => loop.runOnce()).toThrow(expect.objectContaining({ code: 'ERR_LOOP_ATTACHED' }));
    expect(() => loop.attach()).toThrow(expect.objectContaining({ code: 'ERR_LOOP_ATTACHED' }));
    loop.detach();
    let fired = 0;
    loop.setTimeout(() => fired++, 1);
    await loop.run();
    loop.attach();
    await new Promise<void>((r) => loop.setTimeout(() => r(void fired++), 1));
    expect(fired).toBe(2);
    loop.stop(); // on an attached loop: detach
    expect(loop.driver).toBe('none');
  });

  it('does not spin: 1,000 idle watched sockets and an idle timer cost ~0 CPU', async () => {
    loop.attach();
    const listener = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    sys.bind(listener, '127.0.0.1', 0);
    sys.listen(listener, 2048);
    const port = sys.getsockname(listener).port;
    const socks: number[] = [];
    const watchers = [];
    for (let i = 0; i < 1000; i++) {
      const c = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
      sys.connect(c, '127.0.0.1', port);
      socks.push(c);
      watchers.push(loop.watch(c, sys.EPOLLIN | sys.EPOLLRDHUP, () => {}));
    }
    const timer = loop.setTimeout(() => {}, 60_000);
    await sleep(200); // let connections settle (EPOLLOUT is not in the interest set)
    const cpu0 = process.cpuUsage();
    const wake0 = loop.stats().iterations;
    const t0 = hrms();
    await sleep(2000);
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const wall = hrms() - t0;
    expect(loop.stats().iterations - wake0).toBe(0); // not one wake-up while idle
    expect(cpuMs / wall).toBeLessThan(0.05); // generous: the test runner shares the process
    timer.close();
    for (const w of watchers) w.close();
    for (const s of socks) sys.close(s);
    sys.close(listener);
    loop.detach();
  });
});

describe('process lifetime, as a Node handle', () => {
  it('keeps `node -e` alive until our timer fires, then lets it exit', async () => {
    const r = await runScript(`
      const l = new pkg.Loop().attach();
      const t0 = Date.now();
      l.setTimeout(() => console.log('fired after', Date.now() - t0), 300);
    `);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fired after \d+/);
    expect(Number(r.stdout.match(/\d+/)![0])).toBeGreaterThanOrEqual(300);
  });

  it('exits at once when only unref’d work is left', async () => {
    const r = await runScript(`
      const l = new pkg.Loop().attach();
      l.setTimeout(() => console.log('must not fire'), 5000).unref();
      const [rd] = pkg.sys.pipe2(pkg.sys.O_NONBLOCK);
      l.watch(rd, pkg.sys.EPOLLIN, () => {}).unref();
    `);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.ms).toBeLessThan(3000);
  });

  it('the default loop attaches by itself: a script written as for Node just runs', async () => {
    const r = await runScript(`
      const { loop } = pkg;
      loop.setTimeout(() => console.log('default loop ran', loop.driver), 50);
    `);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('default loop ran attached');
  });

  it('surfaces a callback’s exception as uncaughtException and stays consistent', async () => {
    const r = await runScript(`
      const l = new pkg.Loop().attach();
      let n = 0;
      process.on('uncaughtException', (e) => console.log('caught', e.message));
      const iv = l.setInterval(() => {
        n++;
        if (n === 2) throw new Error('boom ' + n);
        if (n === 4) { iv.close(); console.log('done', n); }
      }, 5);
    `);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('caught boom 2\ndone 4\n');
  });

  it('without a handler, the exception ends the process like any Node callback’s', async () => {
    const r = await runScript(`
      const l = new pkg.Loop().attach();
      l.setTimeout(() => { throw new Error('unhandled in our timer'); }, 5);
    `);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unhandled in our timer');
  });
});

describe('busy callbacks', () => {
  it('a busy Node callback delays our timers but never makes them early', async () => {
    loop.attach();
    const start = hrms();
    const fired = new Promise<number>((r) => loop.setTimeout(() => r(hrms() - start), 5));
    setImmediate(() => spin(30));
    expect(await fired).toBeGreaterThanOrEqual(30);
    loop.detach();
  });
});

describe('attach(): the loop time', () => {
  it('is read after Node woke us: callbacks see loop.now() at or after the event, and time between turns counts as asleep', async () => {
    loop.attach();
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    let writtenAt = 0;
    const seen = new Promise<number>((resolve) => {
      const watcher = loop.watch(r, sys.EPOLLIN, () => {
        sys.read(r, Buffer.alloc(8));
        watcher.close();
        resolve(loop.now());
      });
    });
    await sleep(5); // one idle turn or none; then Node sleeps
    loop.stats({ reset: true });
    await sleep(60);
    writtenAt = hrms();
    sys.write(w, Buffer.from('x'));
    const now = await seen;
    const stats = loop.stats();
    sys.close(r);
    sys.close(w);
    expect(now).toBeGreaterThanOrEqual(writtenAt);
    expect(stats.time.asleep).toBeGreaterThan(40);
  });
});
