// examples/deploy/haproxy.ts: two instances of the HTTP example behind Debian's HAProxy with
// HTTP health checks (issue #24, part 3). Under wrk load through HAProxy, one instance is drained
// (SIGTERM, as `systemctl stop` would) and then all are replaced one by one (SIGHUP); no request
// may fail, HAProxy must see the instance go DOWN and come back UP, and SIGTERM must take
// everything down, leaving no process behind.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageDir, runChild } from './helpers';

const SCRIPT = join(packageDir, 'dist/examples/deploy/haproxy.js');
const hasHaproxy = spawnSync('haproxy', ['-v']).error === undefined;
const hasWrk = spawnSync('wrk', ['-v']).error === undefined;

/** Every pid the script reported (itself, HAProxy, each instance): killed after each test if alive. */
const pids = new Set<number>();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  pids.clear();
});

/** True while `pid` is a running process of ours (not a zombie, not a reused pid). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return !/\) Z /.test(stat) && /haproxy|http-server/.test(cmd);
  } catch {
    return false;
  }
}

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = nodeNet.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port with it and the two above it free. */
async function freePorts(): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await free(base)) && (await free(base + 1)) && (await free(base + 2))) return base;
  }
}

/** Resolves once `text` shows in the output (which `get` reads). */
async function waitFor(get: () => string, text: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
  const until = Date.now() + ms;
  for (;;) {
    const m = get().match(text);
    if (m) return m;
    if (Date.now() > until) throw new Error(`no ${text} in:\n${get()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('examples/deploy/haproxy.js', () => {
  it('refuses a bad command line with exit code 2 before starting anything', async () => {
    const zero = await runChild(process.execPath, [SCRIPT, '--instances', '0']);
    expect({ code: zero.code, stderr: zero.stderr }).toEqual({ code: 2, stderr: '--instances must be an integer from 1 to 64, got 0\n(run with --help to see the flags)\n' });
    const top = await runChild(process.execPath, [SCRIPT, '--port', '65535']);
    expect({ code: top.code, stderr: top.stderr }).toEqual({ code: 2, stderr: '--port 65535 leaves no room for 2 instances above it\n(run with --help to see the flags)\n' });
    // a port in use (here the second instance's): said, exit 2, nothing started
    const base = await freePorts();
    const taken = nodeNet.createServer().listen(base + 2, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    try {
      const busy = await runChild(process.execPath, [SCRIPT, '--port', String(base)]);
      expect({ code: busy.code, stdout: busy.stdout }).toEqual({ code: 2, stdout: '' });
      expect(busy.stderr).toBe(`haproxy.js: 127.0.0.1:${base + 2} is not free (listen EADDRINUSE: address already in use 127.0.0.1:${base + 2}); choose another --port\n`);
    } finally {
      taken.close();
    }
  });

  it.skipIf(!hasHaproxy || !hasWrk)(
    'under wrk through HAProxy: one instance drained, then a rolling restart — zero failed requests; SIGTERM leaves no process',
    async () => {
      const port = await freePorts();
      const script = spawn(process.execPath, [SCRIPT, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(script);
      pids.add(script.pid!);
      let out = '';
      const collect = (d: Buffer): void => {
        out += d;
        for (const m of String(d).matchAll(/(?:app\d|haproxy): pid (\d+)/g)) pids.add(Number(m[1]));
      };
      script.stdout.on('data', collect);
      script.stderr.on('data', collect);
      const exited = new Promise<number | null>((r) => script.on('exit', (code) => r(code)));
      const output = (): string => out;
      await waitFor(output, /^ready: /m);
      const app1 = Number((await waitFor(output, /^app1: pid (\d+)/m))[1]);
      const haproxyPid = Number((await waitFor(output, /^haproxy: pid (\d+)/m))[1]);

      // wrk runs until told to stop (SIGINT: it prints its summary then)
      const wrk = spawn('wrk', ['-t1', '-c20', '-d120', `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(wrk);
      let wrkOut = '';
      wrk.stdout.on('data', (d) => {
        wrkOut += d;
      });
      const wrkDone = new Promise<number | null>((r) => wrk.on('exit', (code) => r(code)));
      await new Promise((r) => setTimeout(r, 1000));

      // 1. one instance drained, as `systemctl stop app@1` would: HAProxy's check takes it out
      process.kill(app1, 'SIGTERM');
      await waitFor(output, /Server app\/app1 is DOWN, reason: Layer7 wrong status, code: 503/);
      await waitFor(output, new RegExp(`app1 \\(pid ${app1}\\) exited \\(code 0, drained\\); starting a new one`));
      await waitFor(output, /Server app\/app1 is UP/);
      // 2. a rolling restart of both
      script.kill('SIGHUP');
      await waitFor(output, /^rolling restart done$/m, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      wrk.kill('SIGINT');
      await wrkDone;

      const requests = Number(/(\d+) requests in/.exec(wrkOut)?.[1] ?? 0);
      expect(requests, wrkOut).toBeGreaterThan(1000);
      expect(wrkOut).not.toMatch(/Socket errors|Non-2xx/);
      // every instance was replaced: app1 twice, app2 once, each drained with code 0
      expect(output().match(/shut down cleanly/g)).toHaveLength(3);
      expect(output()).toMatch(/app1 drained \(exit 0\); starting its replacement[\s\S]*Server app\/app1 is UP[\s\S]*app2 drained \(exit 0\)[\s\S]*Server app\/app2 is UP/);

      // 3. everything down: HAProxy (soft stop), then the instances
      script.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output()).toMatch(/all stopped\n$/);
      // the script, HAProxy, app1 and app2, app1 restarted after its drain, both replaced by the rolling restart
      expect(pids.size).toBe(7);
      expect(pids.has(haproxyPid)).toBe(true);
      expect([...pids].filter(alive)).toEqual([]);
      expect(existsSync(output().match(/config (\S+)\/haproxy\.cfg/)![1]!)).toBe(false);
    },
    90_000,
  );
});
