// The UDP benchmark's own parts, without a benchmark run: the C server and load generator
// (built warning-free into a temporary directory), the three servers they are pointed at, and
// the report section.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type UdpResult, udpMarkdown } from '../dist/bench/suites/udp.js';
import { checkFdsEachTest, packageDir, runChild } from './helpers';

checkFdsEachTest();

let bin = '';
beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), 'epoll-reactor-bench-udp-'));
  const r = spawnSync('sh', [join(packageDir, 'bench/c/build.sh'), bin], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe(''); // -Wall -Wextra, not one warning
}, 120_000);
afterAll(() => {
  if (bin) rmSync(bin, { recursive: true, force: true });
});

const running: ChildProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await new Promise((r) => p.once('close', r));
    }
  }
});

function start(argv: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/listening on .*:(\d+)/);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code}: ${out}`)));
  });
}

describe('udp-echo-client --json against each server of the UDP comparison', () => {
  const node = process.execPath;
  const cases: [string, () => string[]][] = [
    ['bench/c/udp-echo-server', () => [join(bin, 'udp-echo-server'), '--port', '0']],
    ['bench/c/udp-echo-server --idle-thread', () => [join(bin, 'udp-echo-server'), '--port', '0', '--idle-thread']],
    ['examples/udp-echo', () => [node, join(packageDir, 'dist/examples/udp-echo.js'), '--port', '0']],
    ['bench/servers/node-dgram-echo', () => [node, join(packageDir, 'dist/bench/servers/node-dgram-echo.js'), '--port', '0']],
  ];
  it.each(cases)('%s: echoes counted, checked byte for byte, latency percentiles in order', async (name, argv) => {
    const { proc, port } = await start(argv());
    const r = await runChild(join(bin, 'udp-echo-client'), ['--port', String(port), '--sockets', '2', '--window', '4', '--duration', '1', '--warmup', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const o = JSON.parse(lines[0]!);
    expect(o.errors).toBe(0);
    expect(o.messages).toBeGreaterThan(100);
    expect(0 < o.p50_us && o.p50_us <= o.p90_us && o.p90_us <= o.p99_us && o.p99_us <= o.max_us).toBe(true);
    if (name.startsWith('bench/c/')) {
      const code = await new Promise((resolve) => {
        proc.once('close', resolve); // after its pipes closed too
        proc.kill('SIGTERM');
      });
      expect(code).toBe(0);
    }
  });

  it('a server that is gone: no echo, exit status 1', async () => {
    const { proc, port } = await start([join(bin, 'udp-echo-server'), '--port', '0']);
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('close', r));
    const r = await runChild(join(bin, 'udp-echo-client'), ['--port', String(port), '--duration', '0.3', '--warmup', '0', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).messages).toBe(0);
  });

  it('bad usage: exit status 2', async () => {
    for (const args of [['--port', '0'], ['--port', '9', '--window', '0'], ['--bogus']]) {
      expect((await runChild(join(bin, 'udp-echo-client'), args)).code).toBe(2);
    }
    expect((await runChild(join(bin, 'udp-echo-server'), ['--port', '-1'])).code).toBe(2);
  });
});

describe('the UDP report section', () => {
  it('gives medians with spreads and says which target each ratio meets', () => {
    const run = (server: string, round: number, msgsPerCpuS: number) => ({
      server,
      load: '8×16',
      round,
      ok: true,
      messages: 1000,
      msgsPerS: 500,
      cpuS: 1,
      msgsPerCpuS,
      latencyUs: { p50: 10, p99: 20 },
      lost: 0,
    });
    const r: UdpResult = {
      size: 64,
      loads: [{ name: '8×16', sockets: 8, window: 16 }],
      durationS: 1,
      servers: [
        { id: 'ours-standalone', label: 'ours · standalone', kind: 'ours', available: true },
        { id: 'node-dgram', label: 'Node dgram', kind: 'node', available: true },
        { id: 'c', label: 'C', kind: 'c', available: true },
        { id: 'c-mt', label: 'C + idle thread', kind: 'c', available: false, reason: 'not built' },
      ],
      runs: [run('ours-standalone', 1, 250), run('ours-standalone', 2, 270), run('node-dgram', 1, 100), run('node-dgram', 2, 150), run('c', 1, 250), run('c', 2, 300)],
    };
    const md = udpMarkdown(r);
    expect(md).toContain('| ours · standalone | 260 (250–270) | 500 | 10 | 20 | 0 |');
    expect(md).toContain('| C + idle thread | not built | | | | |');
    // per-round ratios 2.5 and 1.8: median 2.15 → met; vs C 1.0 and 0.9: median 0.95 → met
    expect(md).toContain('- ours-standalone: 2.15× node-dgram (1.80×–2.50×; target 2×: met), 0.95× c (0.90×–1.00×; target 0.9×: met)');
  });
});
