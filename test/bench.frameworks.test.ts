// The frameworks suite's parts: every app on every server answers the same body (the WebSocket
// echo: the same bytes back, binary), and the report's ratios are taken per round and judged
// against the targets.
import { type ChildProcess, spawn } from 'node:child_process';
import * as nodeHttp from 'node:http';
import * as nodeHttps from 'node:https';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type FrameworksResult, frameworkRatios, frameworksMarkdown } from '../dist/bench/suites/frameworks.js';
import { packageDir } from './helpers';

const running: ChildProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL');
});

function start(args: string[]): Promise<number> {
  const proc = spawn(process.execPath, [join(packageDir, 'dist/bench/servers/framework-app.js'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on .*:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (code) => reject(new Error(`framework-app ${args.join(' ')} exited with ${code}: ${out}`)));
  });
}

function get(port: number, secure: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    (secure ? nodeHttps.get : nodeHttp.get)({ host: '127.0.0.1', port, path: '/', agent: false, rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

describe('bench/servers/framework-app', () => {
  it.each(['plain', 'express', 'fastify', 'https'])('%s answers "Hello, World!" on Node http and on ours, both drivers', async (app) => {
    for (const args of [
      ['--http', 'node'],
      ['--http', 'ours', '--driver', 'standalone'],
      ['--http', 'ours', '--driver', 'node'],
    ]) {
      const port = await start(['--app', app, ...args]);
      expect(await get(port, app === 'https'), `${app} ${args.join(' ')}`).toEqual({ status: 200, body: 'Hello, World!' });
    }
  });
});

describe('bench/servers/framework-app --app ws', () => {
  it.each([
    ['Node http', ['--http', 'node']],
    ['ours, standalone', ['--http', 'ours', '--driver', 'standalone']],
    ['ours, node driver', ['--http', 'ours', '--driver', 'node']],
  ])('%s: every message comes back, in order, as a binary message with the same bytes', async (_name, args) => {
    const port = await start(['--app', 'ws', ...args]);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const sent = Array.from({ length: 200 }, (_, i) => (i % 2 ? Buffer.alloc(i * 7, i) : `text ${i}`));
    const back: { data: Buffer; binary: boolean }[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => {
        for (const m of sent) ws.send(m);
      });
      ws.on('message', (data: Buffer, binary) => {
        back.push({ data, binary });
        if (back.length === sent.length) resolve();
      });
      ws.on('error', reject);
    });
    expect(back.map((m) => m.binary)).toEqual(sent.map(() => true));
    expect(back.map((m) => m.data)).toEqual(sent.map((m) => Buffer.from(m)));
    ws.close();
    await new Promise((r) => ws.once('close', r));
  });
});

describe('frameworks report', () => {
  const run = (app: 'plain' | 'express' | 'fastify', server: string, round: number, reqPerCpuS: number) => ({
    app,
    server,
    round,
    ok: true,
    requests: reqPerCpuS,
    rps: reqPerCpuS,
    cpuS: 1,
    reqPerCpuS,
    p99Us: 1000,
    errors: 0,
  });
  const result: FrameworksResult = {
    connections: 100,
    durationS: 1,
    servers: ['node', 'ours-standalone', 'ours-node'].map((s) => ({ id: `plain-${s}`, label: s, kind: s === 'node' ? 'node' : 'ours', available: true, app: 'plain' as const })),
    runs: [
      // Node's figure moves between rounds; each ratio is taken within its round
      run('plain', 'node', 1, 100),
      run('plain', 'ours-standalone', 1, 150),
      run('plain', 'ours-node', 1, 120),
      run('plain', 'node', 2, 200),
      run('plain', 'ours-standalone', 2, 260),
      run('plain', 'ours-node', 2, 300),
      run('plain', 'node', 3, 50),
      run('plain', 'ours-standalone', 3, 80),
      { app: 'plain', server: 'ours-node', round: 3, ok: false, error: 'server exited during the run' },
    ],
  };

  it('takes the ratio ours / Node per round: median and spread, judged against the target', () => {
    expect(frameworkRatios(result)).toEqual([
      { app: 'plain', server: 'ours-standalone', median: 1.5, min: 1.3, max: 1.6, target: 1.4 },
      { app: 'plain', server: 'ours-node', median: 1.35, min: 1.2, max: 1.5, target: 1.4 },
    ]);
    const md = frameworksMarkdown(result);
    expect(md).toContain('- plain, ours-standalone: 1.50× Node http (1.30–1.60); target 1.4×: met');
    expect(md).toContain('- plain, ours-node: 1.35× Node http (1.20–1.50); target 1.4×: missed');
    expect(md).toContain('| plain | node | 100 (50.0–200) | 100 | 1.00 ms | 0 |');
    expect(md).toContain('| plain | ours-node | 210 (120–300) | 210 | 1.00 ms | 0 |');
  });

  it('the ws row: messages per CPU-second, its own target (1.2×)', () => {
    const ws = (server: string, round: number, reqPerCpuS: number) => ({ ...run('plain', server, round, reqPerCpuS), app: 'ws' as const });
    const r: FrameworksResult = {
      connections: 100,
      durationS: 1,
      servers: ['node', 'ours-standalone'].map((s) => ({ id: `ws-${s}`, label: s, kind: s === 'node' ? 'node' : 'ours', available: true, app: 'ws' as const })),
      runs: [ws('node', 1, 1000), ws('ours-standalone', 1, 1300), ws('node', 2, 800), ws('ours-standalone', 2, 900)],
    };
    expect(frameworkRatios(r)).toEqual([{ app: 'ws', server: 'ours-standalone', median: 1.2125, min: 1.125, max: 1.3, target: 1.2 }]);
    const md = frameworksMarkdown(r);
    expect(md).toContain('- ws, ours-standalone: 1.21× Node http (1.13–1.30); target 1.2×: met');
    expect(md).toContain('| ws | ours-standalone | 1,100 (900–1,300) | 1,100 | 1.00 ms | 0 |');
    expect(md).toContain('WebSocket echo ≥ 1.2×');
  });

  it('says why when wrk is missing', () => {
    expect(frameworksMarkdown({ skipped: 'wrk is not available: not installed', connections: 100, durationS: 1, servers: [], runs: [] })).toContain(
      'Skipped: wrk is not available: not installed.',
    );
  });
});
