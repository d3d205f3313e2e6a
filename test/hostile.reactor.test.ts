// Attacks on the reactor itself (issue #20): a host up for more than 104 days, timers no alarm can
// hold, a driver that fails half-way through starting, a full fd table, a worker thread's end,
// another loop's handles, an iteration run from inside itself, a burst of writes. Each test is
// the class of its bug: it failed before the fix, in each driver it applies to.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, drivers, onLoop, packageDir, pkg, runChild, runScript } from './helpers';

const { Loop, net } = pkg;

checkFdsEachTest();

/** A child's outcome, printed when an assertion fails. */
const show = (r: { code: number | null; signal: string | null; stdout: string; stderr: string }): string =>
  `exit ${r.code} signal ${r.signal}\n${r.stdout}\n${r.stderr}`;

// ── 1. Uptime past 2^53 ns ────────────────────────────────────────────────────────────────
// CLOCK_MONOTONIC passes 2^53 ns after ~104.25 days of uptime. A time namespace (unshare -T)
// moves the clock of the processes inside it, so a child can live on day 105 now.
const OFFSET_S = 9_100_000; // 105.3 days
const canShiftClock = spawnSync('unshare', ['-T', '--monotonic', String(OFFSET_S), '--fork', 'true']).status === 0;
if (!canShiftClock) console.warn('hostile.reactor: unshare -T is not permitted here; the uptime tests are skipped');

function onDay105(code: string, timeoutMs = 20_000) {
  const script = `const pkg = require(${JSON.stringify(packageDir)});\n${code}`;
  return runChild('unshare', ['-T', '--monotonic', String(OFFSET_S), '--fork', process.execPath, '-e', script], { timeoutMs });
}

describe.skipIf(!canShiftClock)('a host up for more than 104.25 days', () => {
  it('the child really is past 2^53 ns of CLOCK_MONOTONIC', async () => {
    const r = await onDay105('console.log(pkg.sys.clock_gettime(pkg.sys.CLOCK_MONOTONIC) > 2 ** 53)');
    expect(r.stdout.trim(), show(r)).toBe('true');
  });

  it.each(drivers)('timers fire, on time and never early (%s), with and without spinUs', async (driver) => {
    const r = await onDay105(`
      const { Loop, sys } = pkg;
      const results = [];
      const check = async (spinUs) => {
        const loop = new Loop({ spinUs });
        const fired = [];
        const now = () => sys.clock_gettime(sys.CLOCK_MONOTONIC) / 1e6;
        for (const ms of [0.3, 2, 5, 12]) {
          const t0 = now();
          loop.setTimeout(() => fired.push(now() - t0 - ms), ms);
        }
        ${driver === 'attached' ? 'loop.attach(); await new Promise((r) => setTimeout(r, 60)); loop.detach();' : 'await loop.run();'}
        loop.close();
        results.push({ spinUs, fired: fired.length, early: fired.filter((d) => d < 0).length });
      };
      (async () => { await check(50); await check(0); console.log(JSON.stringify(results)); })().catch((e) => { console.error(e); process.exit(1); });
    `);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { spinUs: 50, fired: 4, early: 0 },
      { spinUs: 0, fired: 4, early: 0 },
    ]);
  });

  it('the HTTP example sleeps past its first timer and serves', async () => {
    const example = join(packageDir, 'dist/examples/http-server.js');
    const r = await onDay105(`
      const { spawn } = require('node:child_process');
      const http = require('node:http');
      const proc = spawn(process.execPath, [${JSON.stringify(example)}, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stderr.on('data', (d) => { out += d; });
      proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on .*:(\\d+)/);
        if (!m) return;
        // Its 1 s housekeeping interval is its first sleep with a timer: wait past it, then ask.
        setTimeout(() => http.get({ port: Number(m[1]), host: '127.0.0.1' }, (res) => {
          let body = '';
          res.on('data', (d) => { body += d; });
          res.on('end', () => { console.log(res.statusCode, body); proc.kill('SIGKILL'); });
        }).on('error', (e) => { console.error(e.message, out); process.exit(1); }), 1500);
      });
      proc.on('exit', (code, signal) => { if (signal !== 'SIGKILL') { console.error('example died', code, signal, out); process.exit(1); } });
    `);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe('200 Hello, World!');
  });
});

// ── 2. Delays no alarm can hold ───────────────────────────────────────────────────────────
describe('huge delays', () => {
  it('a lone Infinity timer on the default loop never fires and never crashes the process', async () => {
    const r = await runScript(`
      const t = pkg.loop.setTimeout(() => console.log('fired'), Infinity);
      setTimeout(() => { console.log('alive', pkg.loop.nextTimeout()); t.close(); }, 50);
    `);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe(`alive ${2 ** 31 - 1}`);
  });

  it.each(drivers)('Infinity, 1e10 and 1e300 ms as the nearest timer (%s)', async (driver) => {
    const fired: number[] = [];
    await onLoop(driver, async (loop) => {
      const far = [Infinity, 1e10, 1e300].map((ms) => loop.setTimeout(() => fired.push(ms), ms));
      // Let the loop sleep towards them (arming its alarm), then end it with a near one.
      await new Promise<void>((resolve) => loop.setTimeout(resolve, 20));
      const pending = far.filter((t) => t.pending).length;
      for (const t of far) t.close();
      expect(pending).toBe(3);
    });
    expect(fired).toEqual([]);
  });
});

// ── 3. A driver that fails half-way through starting ──────────────────────────────────────
describe('a failed attach()', () => {
  it('stops what it started: later attach() calls do not see EEXIST, and close() does not abort', async () => {
    // The alarm timerfd is closed behind the loop's back: attach() starts watching the epoll fd,
    // then fails arming the alarm (EBADF). Before the fix the uv_poll handle stayed running.
    const r = await runScript(`
      const { Loop, sys } = pkg;
      const { readdirSync, readlinkSync } = require('node:fs');
      const timerfds = () => new Set(readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync('/proc/self/fd/' + fd).includes('timerfd'); } catch { return false; } }).map(Number));
      const before = timerfds();
      const loop = new Loop();
      const alarm = [...timerfds()].filter((fd) => !before.has(fd));
      if (alarm.length !== 1) throw new Error('alarm fds: ' + alarm);
      loop.setTimeout(() => {}, 50);
      sys.close(alarm[0]);
      const codes = [];
      for (let i = 0; i < 3; i++) {
        try { loop.attach(); codes.push('attached'); } catch (e) { codes.push(e.code); }
        codes.push(loop.driver);
      }
      loop.close({ force: true });
      // Node's loop turns on: nothing of ours may still poll the closed epoll fd.
      setTimeout(() => console.log(JSON.stringify(codes)), 30);
    `);
    expect(r.code, show(r)).toBe(0);
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout)).toEqual(['EBADF', 'none', 'EBADF', 'none', 'EBADF', 'none']);
  });
});

// ── 4. The alarm when the fd table is full ────────────────────────────────────────────────
describe('EMFILE before the first timer', () => {
  it.each(drivers)('timers still fire once every fd is taken (%s)', async (driver) => {
    const r = await runScript(
      `
      const { Loop, sys } = pkg;
      const loop = new Loop();
      const held = [];
      try { for (;;) held.push(...sys.pipe2(sys.O_NONBLOCK)); } catch (e) { if (e.code !== 'EMFILE') throw e; }
      let fired = 0;
      loop.setTimeout(() => fired++, 5);
      loop.setTimeout(() => fired++, 10);
      const done = () => { held.forEach(sys.close); loop.close(); console.log('fired', fired); };
      ${driver === 'attached' ? 'loop.attach(); loop.setTimeout(() => { loop.detach(); done(); }, 20);' : 'loop.run().then(done, (e) => { console.error(e); process.exit(1); });'}
    `,
      { prefix: 'ulimit -n 64;' },
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe('fired 2');
  });
});

// ── 5. A worker thread that used the loop ends ────────────────────────────────────────────
describe('worker threads', () => {
  // The main thread never loads the addon: the worker's end unloads it. Its attach handle's close
  // callback must run before that (it used to run after: SIGSEGV).
  const worker = (body: string, then: string) => `
    const { Worker } = require('node:worker_threads');
    const w = new Worker(${JSON.stringify(`const { loop } = require(${JSON.stringify(packageDir)});\n${body}`)}, { eval: true });
    w.on('message', () => { ${then} });
    w.on('error', (e) => { console.error(e); process.exit(1); });
    w.on('exit', (code) => console.log('worker exit', code));
  `;
  const cases: [string, string, string][] = [
    ['process.exit() in the worker', 'loop.setTimeout(() => {}, 1e6); setTimeout(() => process.exit(0), 10);', ''],
    ['terminate() while its timers run', "const f = () => loop.setTimeout(f, 0); f(); require('node:worker_threads').parentPort.postMessage(1);", 'w.terminate();'],
    ['detach(), then exit at once', 'loop.setTimeout(() => {}, 1e6); setTimeout(() => { loop.detach(); process.exit(0); }, 10);', ''],
    ['its natural end', 'loop.setTimeout(() => {}, 5);', ''],
  ];
  it.each(cases)('%s: the process exits cleanly', async (_name, body, then) => {
    for (let i = 0; i < 3; i++) {
      const r = await runChild(process.execPath, ['-e', worker(body, then)]);
      expect(r.signal, show(r)).toBeNull();
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toMatch(/worker exit [01]/);
    }
  });
});

// ── 6. Another loop's handles ─────────────────────────────────────────────────────────────
describe('clearing a handle of another loop', () => {
  it.each(drivers)('is ignored, as Node ignores foreign handles (%s)', async (driver) => {
    const log: string[] = [];
    const other = new Loop();
    try {
      const foreignTimer = other.setTimeout(() => {}, 1000);
      const foreignImmediate = other.setImmediate(() => {});
      await onLoop(driver, async (loop) => {
        loop.clearTimeout(foreignTimer);
        loop.clearInterval(foreignTimer);
        loop.clearImmediate(foreignImmediate);
        expect(other.stats().alive).toMatchObject({ timers: 1, immediates: 1, refs: 2 });
        await new Promise<void>((resolve) => {
          loop.setImmediate(() => log.push('immediate'));
          loop.setTimeout(() => {
            log.push('timer');
            resolve();
          }, 5);
        });
      });
      expect(log).toEqual(['immediate', 'timer']);
      expect(other.runNoWait()).toBe(true); // its immediate ran; its timer is still pending
      other.clearTimeout(foreignTimer);
      expect(other.alive).toBe(false);
    } finally {
      other.close({ force: true });
    }
  });
});

// ── 7. An iteration run from inside one of its own callbacks ──────────────────────────────
describe('runNoWait() / runOnce() from inside a callback', () => {
  const modes = ['auto-attached', 'attached', 'standalone'] as const;
  it.each(modes)('is refused with ERR_LOOP_RUNNING, and no byte is lost (%s)', async (mode) => {
    const loop = new Loop({ autoAttach: mode === 'auto-attached' });
    const SIZE = 4 * 1024 * 1024;
    const payload = Buffer.alloc(SIZE, 'x');
    const codes = new Set<string>();
    let received = 0;
    try {
      const done = new Promise<void>((resolve, reject) => {
        const server = net.createServer({ loop }, (s) => {
          s.on('data', (chunk: Buffer) => {
            received += chunk.length;
            for (const nested of [() => loop.runNoWait(), () => loop.runOnce()]) {
              try {
                nested();
                codes.add('ran');
              } catch (e) {
                codes.add((e as { code: string }).code);
              }
            }
          });
          s.on('end', () => {
            s.end();
            server.close();
          });
        });
        server.on('close', resolve);
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const c = net.connect({ loop, port: (server.address() as { port: number }).port, host: '127.0.0.1' }, () => c.end(payload));
          c.on('error', reject);
        });
      });
      if (mode === 'attached') loop.attach();
      if (mode === 'standalone') await Promise.all([loop.run(), done]);
      else await done;
    } finally {
      loop.close({ force: true });
    }
    expect([...codes]).toEqual(['ERR_LOOP_RUNNING']);
    expect(received).toBe(SIZE);
  });
});

// ── 8. A burst of writes in one callback ──────────────────────────────────────────────────
describe('a burst of writes in one callback', () => {
  // Measured in a child with --expose-gc: ArrayBuffer memory before, and after the burst was
  // delivered, the sockets closed and a full collection.
  const burst = (driver: string, total: number, piece: number) =>
    runChild(
      process.execPath,
      [
        '--expose-gc',
        '-e',
        `
      const { Loop, net } = require(${JSON.stringify(packageDir)});
      const loop = new Loop();
      const total = ${total}, piece = ${piece};
      const chunk = Buffer.alloc(piece);
      for (let i = 0; i < piece; i++) chunk[i] = i & 255;
      global.gc();
      const base = process.memoryUsage().arrayBuffers;
      let callbacks = 0, got = 0, bad = 0;
      const server = net.createServer({ loop }, (s) => {
        for (let sent = 0; sent < total; sent += piece) s.write(chunk, () => callbacks++);
        s.end();
        server.close();
      });
      server.listen(0, '127.0.0.1', () => {
        const c = net.connect({ loop, port: server.address().port, host: '127.0.0.1' });
        c.on('data', (d) => { for (let i = 0; i < d.length; i += 4093) if (d[i] !== ((got + i) % piece) % 256) bad++; got += d.length; });
        c.on('end', () => c.end());
      });
      // Once the callbacks' nextTicks are done (what they hold is garbage only after them).
      const report = () => setTimeout(() => {
        loop.close();
        global.gc();
        global.gc();
        const held = (process.memoryUsage().arrayBuffers - base) / 2 ** 20;
        console.log(JSON.stringify({ got, bad, callbacks, writes: Math.ceil(total / piece), heldMiB: held }));
      }, 20);
      ${driver === 'attached' ? "loop.attach(); server.on('close', () => setTimeout(() => { loop.detach(); report(); }, 20));" : 'loop.run().then(report);'}
    `,
      ],
      { timeoutMs: 60_000 },
    );

  it.each(drivers)('200 MB in 1 KiB writes arrives whole and leaves no memory pinned (%s)', async (driver) => {
    const r = await burst(driver, 200e6, 1024);
    expect(r.code, show(r)).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.got).toBe(out.writes * 1024);
    expect(out.bad).toBe(0);
    expect(out.callbacks).toBe(out.writes);
    expect(out.heldMiB).toBeLessThan(16); // 201 MiB before the fix; the batch's own buffer is 1 MiB
  });

  it('2.2 GB in one callback (past int32 ranges) is sent, whole, with every callback', async () => {
    const r = await burst('attached', 2.2e9, 1 << 20);
    expect(r.code, show(r)).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.got).toBe(out.writes * (1 << 20));
    expect(out.bad).toBe(0);
    expect(out.callbacks).toBe(out.writes);
  });
});
