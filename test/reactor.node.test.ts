// Node's own loop keeps running beside ours, in both drivers (issue #21): a server handler that
// awaits fs answers; Node's timers fire on time while our loop is idle and while it is busy; a
// SIGTERM handler runs on an idle server; a Node net client talks to our server in the same
// process; dns.lookup and zlib call back. Standalone, `await loop.run()` used to stall all of it
// until run() returned. Each case runs in a fresh process, so that nothing of the test runner's
// own loop (its workers' messages and timers) is in the picture.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { drivers, packageDir } from './helpers';

const SCRIPT = String.raw`
const { loop, net } = require(process.argv[1]);
const driver = process.argv[2];
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const nodeNet = require('node:net');
const dns = require('node:dns');
const zlib = require('node:zlib');
const { once } = require('node:events');
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'er-node-')), 'log');
const out = {};
const server = net.createServer((sock) => {
  sock.on('data', async (d) => {
    await fs.promises.appendFile(file, d); // the thread pool, through Node's loop
    sock.write('ok:' + d);
  });
});
const lateness = async (n) => {
  const late = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 3));
    late.push(performance.now() - t0 - 3);
  }
  return late.sort((a, b) => a - b);
};
server.listen(0, '127.0.0.1', async () => {
  try {
    const c = nodeNet.connect(server.address().port, '127.0.0.1');
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d) => {
      got += d;
      if (got === 'ok:hi') c.end();
    });
    c.write('hi');
    await once(c, 'close');
    out.fs = got === 'ok:hi' && fs.readFileSync(file, 'utf8') === 'hi';
    out.dns = await new Promise((r) => dns.lookup('localhost', (e, a) => r(!e && typeof a === 'string')));
    out.zlib = await new Promise((r) => zlib.gzip('x'.repeat(1000), (e, b) => r(!e && zlib.gunzipSync(b).length === 1000)));
    out.idle = await lateness(20);
    // Busy: our loop runs immediates back to back, each 200 µs of work.
    let busy = true;
    let spins = 0;
    const work = () => {
      const t = performance.now();
      while (performance.now() - t < 0.2);
      spins++;
      if (busy) loop.setImmediate(work);
    };
    loop.setImmediate(work);
    out.busy = await lateness(20);
    busy = false;
    out.spins = spins;
  } catch (e) {
    out.error = String(e && e.stack || e);
  }
  process.on('SIGTERM', () => {
    process.stdout.write('term\n');
    server.close();
  });
  process.stdout.write(JSON.stringify(out) + '\n');
});
if (driver === 'standalone') loop.run().then(() => process.stdout.write('run returned\n'));
`;

interface Result {
  fs: boolean;
  dns: boolean;
  zlib: boolean;
  idle: number[];
  busy: number[];
  spins: number;
  error?: string;
}

describe.each(drivers)('Node beside our loop (%s)', (driver) => {
  it('fs in a handler, a Node client, dns, zlib, Node timers idle and busy, SIGTERM on an idle server', async () => {
    const child = spawn(process.execPath, ['-e', SCRIPT, packageDir, driver], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const line = (re: RegExp): Promise<string> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = stdout.match(re);
          if (m) resolve(m[0]);
        };
        child.stdout.on('data', (d) => {
          stdout += d;
          check();
        });
        child.on('exit', () => reject(new Error(`exited before ${re}: ${stdout}${stderr}`)));
        check();
      });
    try {
      const r = JSON.parse(await line(/^\{.*\}$/m)) as Result;
      expect(r.error, r.error).toBeUndefined();
      expect({ fs: r.fs, dns: r.dns, zlib: r.zlib }).toEqual({ fs: true, dns: true, zlib: true });
      // Node's 3 ms timers, one after the other: the median within 2 ms of the deadline, idle
      // and while our loop is busy (before, standalone, they waited for run() to return).
      const median = (a: number[]): number => a[a.length >> 1] as number;
      expect(median(r.idle), `idle: ${r.idle.map((x) => x.toFixed(2))}`).toBeLessThanOrEqual(2);
      expect(median(r.busy), `busy: ${r.busy.map((x) => x.toFixed(2))}`).toBeLessThanOrEqual(2);
      expect(r.spins).toBeGreaterThan(20); // our loop did run meanwhile
      // An idle server: SIGTERM reaches Node's handler at once, not with the next client.
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      child.kill('SIGTERM');
      await line(/^term$/m);
      expect(performance.now() - t0).toBeLessThan(100);
      expect(await exited).toBe(0);
      if (driver === 'standalone') expect(stdout).toMatch(/^run returned$/m);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
