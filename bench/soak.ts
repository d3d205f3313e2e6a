/**
 * Soak: hold mixed load against the example servers for N minutes and watch them for leaks.
 *
 *   npm run soak -- --minutes 2 [--rss-growth-mib 24] [--save]
 *
 * Servers (each its own process): examples/http-server (standalone driver) and
 * examples/echo-server (inside Node's loop), both with --report. Load, from this process
 * (Node's own net, so the load generator shares no code with what it tests):
 *   - 20 echo connections, 1 KiB messages in a closed loop;
 *   - 20 HTTP keep-alive connections, one request in flight each;
 *   - connection churn: about 200 connect → request → close cycles a second per server;
 * while the servers run their own timers (the report interval, the HTTP idle sweep).
 *
 * Every second it records, per server: RSS, JS heap, open fds, connections. At the end the load
 * stops, and the run fails (exit 1) unless each server's fd count is back to where it was before
 * the load, and its RSS grew by at most the stated bound between the end of the first fifth of
 * the run (warmed up) and the end. The samples go to bench/out/soak-latest.json (git-ignored), or
 * with --save to bench/results/soak-latest.json (tracked; docs/reliability.md quotes it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    'rss-growth-mib': { type: 'string', default: '24' },
    save: { type: 'boolean', default: false },
  },
});
const MINUTES = Number(values.minutes);
const RSS_BOUND = Number(values['rss-growth-mib']) * 1024 * 1024;
const root = join(__dirname, '..', '..');

interface Server {
  name: string;
  proc: ChildProcess;
  port: number;
  heap: number;
  buffers: number;
  connections: number;
}

interface Sample {
  t: number;
  [server: string]: number;
}

function startServer(name: string, script: string, args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, [join(root, 'dist/examples', script), '--port', '0', '--report', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const server: Server = { name, proc, port: 0, heap: 0, buffers: 0, connections: 0 };
    proc.stdout!.on('data', (d) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        const m = line.match(/^listening on .*:(\d+)$/);
        if (m) {
          server.port = Number(m[1]);
          resolve(server);
        } else if (line.startsWith('{')) {
          const r = JSON.parse(line) as { heapUsedBytes: number; arrayBuffersBytes: number; connections: number };
          server.heap = r.heapUsedBytes;
          server.buffers = r.arrayBuffersBytes;
          server.connections = r.connections;
        }
      }
    });
    proc.on('exit', (code) => reject(new Error(`${name} exited (${code})`)));
  });
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const rss = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1]) * 1024;

let stopping = false;
const counters = { echo: 0, http: 0, churn: 0, errors: 0 };

function echoClient(port: number): void {
  const c = net.connect(port, '127.0.0.1');
  const msg = Buffer.alloc(1024, 7);
  let got = 0;
  c.on('connect', () => c.write(msg));
  c.on('data', (d) => {
    got += d.length;
    if (got >= msg.length) {
      got -= msg.length;
      counters.echo++;
      if (!stopping) c.write(msg);
      else c.end();
    }
  });
  c.on('error', () => counters.errors++);
}

function httpClient(port: number): void {
  const c = net.connect(port, '127.0.0.1');
  const req = 'GET / HTTP/1.1\r\nHost: soak\r\n\r\n';
  let got = '';
  c.on('connect', () => c.write(req));
  c.on('data', (d) => {
    got += d;
    if (got.endsWith('Hello, World!')) {
      got = '';
      counters.http++;
      if (!stopping) c.write(req);
      else c.end();
    }
  });
  c.on('error', () => counters.errors++);
}

function churn(server: Server, http: boolean): void {
  if (stopping) return;
  const c = net.connect(server.port, '127.0.0.1', () => c.write(http ? 'GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n' : 'ping'));
  c.on('data', () => {
    counters.churn++;
    c.destroy();
  });
  c.on('error', () => counters.errors++);
  c.on('close', () => setTimeout(() => churn(server, http), 5));
}

async function main(): Promise<void> {
  const http = await startServer('http', 'http-server.js', ['--driver', 'standalone']);
  const echo = await startServer('echo', 'echo-server.js', ['--driver', 'node']);
  const servers = [http, echo];
  await new Promise((r) => setTimeout(r, 1500));
  const baseline = Object.fromEntries(servers.map((s) => [s.name, fds(s.proc.pid!)]));
  console.log(`soak: ${MINUTES} min; baseline fds ${JSON.stringify(baseline)}`);

  for (let i = 0; i < 20; i++) {
    echoClient(echo.port);
    httpClient(http.port);
  }
  for (let i = 0; i < 2; i++) {
    churn(http, true);
    churn(echo, false);
  }

  const samples: Sample[] = [];
  const start = Date.now();
  const total = MINUTES * 60_000;
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      const sample: Sample = { t: (Date.now() - start) / 1000 };
      for (const s of servers) {
        sample[`${s.name}.rss`] = rss(s.proc.pid!);
        sample[`${s.name}.heap`] = s.heap;
        sample[`${s.name}.buffers`] = s.buffers;
        sample[`${s.name}.fds`] = fds(s.proc.pid!);
        sample[`${s.name}.connections`] = s.connections;
      }
      samples.push(sample);
      process.stderr.write(
        `\r[soak ${sample.t.toFixed(0)}/${total / 1000} s] echo ${counters.echo} http ${counters.http} churn ${counters.churn} ` +
          `errors ${counters.errors}  rss http ${(sample['http.rss']! / 1048576).toFixed(1)} MiB echo ${(sample['echo.rss']! / 1048576).toFixed(1)} MiB  ` +
          `fds ${sample['http.fds']}/${sample['echo.fds']}   `,
      );
      if (Date.now() - start >= total) {
        clearInterval(t);
        resolve();
      }
    }, 1000);
  });
  stopping = true;
  await new Promise((r) => setTimeout(r, 3000)); // clients end, servers close their sides
  process.stderr.write('\n');

  let failed = false;
  const warm = samples[Math.floor(samples.length / 5)]!;
  const last = samples.at(-1)!;
  const result: Record<string, unknown> = { minutes: MINUTES, counters, rssBoundBytes: RSS_BOUND };
  for (const s of servers) {
    const fdsAfter = fds(s.proc.pid!);
    const growth = rss(s.proc.pid!) - warm[`${s.name}.rss`]!;
    const ok = fdsAfter === baseline[s.name] && growth <= RSS_BOUND;
    failed ||= !ok;
    result[s.name] = { fdsBefore: baseline[s.name], fdsAfter, rssWarm: warm[`${s.name}.rss`], rssEnd: last[`${s.name}.rss`], rssGrowth: growth, ok };
    console.log(
      `${s.name}: fds ${baseline[s.name]} → ${fdsAfter}; RSS ${(warm[`${s.name}.rss`]! / 1048576).toFixed(1)} → ` +
        `${(last[`${s.name}.rss`]! / 1048576).toFixed(1)} MiB (growth ${(growth / 1048576).toFixed(1)} MiB, bound ${(RSS_BOUND / 1048576).toFixed(0)}) ${ok ? 'ok' : 'FAIL'}`,
    );
    s.proc.kill('SIGKILL');
  }
  console.log(`load: ${counters.echo} echo round trips, ${counters.http} HTTP requests, ${counters.churn} connect/close cycles, ${counters.errors} client errors`);
  // Tracked files change only when asked (--save); by default the samples go to a git-ignored place.
  const outDir = join(root, values.save ? 'bench/results' : 'bench/out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'soak-latest.json'), JSON.stringify({ ...result, samples }, null, 1));
  console.log(`soak: samples in ${join(outDir, 'soak-latest.json')}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
