/**
 * Beyond one process: N instances of the HTTP example on loopback ports behind HAProxy, with
 * HTTP health checks — the layout of docs/deploy.md on one machine.
 *
 *   node dist/examples/deploy/haproxy.js [--port 8080] [--instances 2] [--drain-delay 1000]
 *
 * HAProxy listens on --port; instance k listens on --port + k. Debian's `haproxy` is needed: when
 * it is missing, this installs it (`apt-get install -y haproxy`, as root) and says so.
 *
 * - An instance that exits (crashed, or drained by `kill -TERM <pid>`) is started again on its
 *   port; HAProxy's health checks see it go DOWN and come back UP (their lines are printed).
 * - SIGHUP: a rolling restart — each instance in turn is drained (HAProxy marks it DOWN while it
 *   finishes its requests), started again, and waited for until HAProxy marks it UP.
 * - SIGTERM or SIGINT: HAProxy stops accepting and finishes its connections (soft stop), then
 *   every instance drains, and this exits 0 with nothing left running. A second signal kills
 *   everything at once.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intFlag, parseCommandLine, usageError } from '../cli';

const values = parseCommandLine({
  about:
    'N instances of the HTTP example on loopback ports behind HAProxy, with HTTP health checks.\n' +
    'SIGHUP: rolling restart of the instances; SIGTERM/SIGINT: drain everything and exit 0.',
  flags: {
    port: { type: 'string', default: '8080', value: 'N', help: "HAProxy's port; instance k listens on port + k" },
    instances: { type: 'string', default: '2', value: 'N', help: 'how many instances of dist/examples/http-server.js' },
    'drain-delay': {
      type: 'string',
      default: '1000',
      value: 'MS',
      help: "how long a draining instance fails its health check before closing its listener (HAProxy's checks need ~500 ms)",
    },
  },
  notes: ['try: curl http://127.0.0.1:8080/, wrk -c50 -d10 http://127.0.0.1:8080/ and meanwhile kill -HUP <pid of this>'],
});
const PORT = intFlag(values, 'port', 1, 65535);
const COUNT = intFlag(values, 'instances', 1, 64);
const DRAIN_DELAY = intFlag(values, 'drain-delay', 0);
if (PORT + COUNT > 65535) usageError(`--port ${PORT} leaves no room for ${COUNT} instances above it`);

const HTTP_SERVER = join(__dirname, '..', 'http-server.js');
const CONFIG = join(__dirname, '..', '..', '..', 'examples', 'deploy', 'haproxy.cfg');

/** Finds `haproxy`, installing Debian's package when it is missing (root only). */
function ensureHaproxy(): void {
  if (spawnSync('haproxy', ['-v']).error === undefined) return;
  console.log("haproxy is not installed: installing Debian's package (apt-get install -y haproxy)");
  if (process.getuid?.() !== 0) {
    console.error('haproxy.js: installing haproxy needs root: run `sudo apt-get install -y haproxy`, then this again');
    process.exit(2);
  }
  const install = () => spawnSync('apt-get', ['install', '-y', 'haproxy'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (install().status !== 0) {
    console.log('apt-get install failed; running apt-get update and trying again');
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    if (install().status !== 0 || spawnSync('haproxy', ['-v']).error !== undefined) {
      console.error('haproxy.js: could not install haproxy');
      process.exit(2);
    }
  }
}

/** Prints each line of `stream` with a prefix. */
function relay(stream: NodeJS.ReadableStream, prefix: string, onLine: (line: string) => void = () => {}): void {
  let tail = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    const lines = (tail + d).split('\n');
    tail = lines.pop()!;
    for (const line of lines) {
      console.log(`${prefix} ${line}`);
      onLine(line);
    }
  });
}

// ── The instances ───────────────────────────────────────────────────────────────────────────
interface Instance {
  name: string;
  port: number;
  proc: ChildProcess | null;
  /** Resolves when the current process listens. */
  listening: Promise<void>;
  exited: Promise<number | string | null>;
  startedAt: number;
  quickFailures: number;
  /** A rolling restart is replacing it: the supervisor leaves it alone. */
  replacing: boolean;
}
const instances: Instance[] = Array.from({ length: COUNT }, (_, i) => ({
  name: `app${i + 1}`,
  port: PORT + i + 1,
  proc: null,
  listening: Promise.resolve(),
  exited: Promise.resolve(null),
  startedAt: 0,
  quickFailures: 0,
  replacing: false,
}));
let stopping = false;

function startInstance(inst: Instance): void {
  const proc = spawn(process.execPath, [HTTP_SERVER, '--port', String(inst.port), '--drain-delay', String(DRAIN_DELAY)], { stdio: ['ignore', 'pipe', 'pipe'] });
  inst.proc = proc;
  inst.startedAt = Date.now();
  inst.listening = new Promise((resolve) => {
    relay(proc.stdout!, `[${inst.name}]`, (line) => {
      if (line.startsWith('listening on ')) {
        console.log(`${inst.name}: pid ${proc.pid} on 127.0.0.1:${inst.port}`);
        resolve();
      }
    });
  });
  relay(proc.stderr!, `[${inst.name}]`);
  inst.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  void inst.exited.then((how) => {
    if (stopping || inst.replacing || inst.proc !== proc) return;
    const quick = Date.now() - inst.startedAt < 1000;
    inst.quickFailures = quick ? inst.quickFailures + 1 : 0;
    if (inst.quickFailures >= 5) {
      console.error(`haproxy.js: ${inst.name} failed 5 times in a row within a second of starting; stopping`);
      void shutdown('failure', 1);
      return;
    }
    console.log(`${inst.name} (pid ${proc.pid}) exited (${how === 0 ? 'code 0, drained' : `${typeof how === 'number' ? 'code' : 'signal'} ${how}`}); starting a new one`);
    setTimeout(() => {
      if (!stopping && inst.proc === proc) startInstance(inst);
    }, quick ? 200 * inst.quickFailures : 0);
  });
}

// ── HAProxy ─────────────────────────────────────────────────────────────────────────────────
let haproxy: ChildProcess | null = null;
let haproxyExited: Promise<unknown> = Promise.resolve();
/** HAProxy's view of each server, from its "Server app/appN is UP/DOWN" lines. */
const serverState = new Map<string, 'UP' | 'DOWN'>();
const stateWaiters: (() => void)[] = [];
const runDir = mkdtempSync(join(tmpdir(), 'epoll-reactor-deploy-'));

function startHaproxy(): Promise<void> {
  const servers = instances.map((inst) => `    server ${inst.name} 127.0.0.1:${inst.port}\n`).join('');
  const config = join(runDir, 'haproxy.cfg');
  writeFileSync(config, `${readFileSync(CONFIG, 'utf8')}${servers}`);
  const env = { ...process.env, FRONTEND: `127.0.0.1:${PORT}`, RUN_DIR: runDir };
  const check = spawnSync('haproxy', ['-c', '-q', '-f', config], { env, encoding: 'utf8' });
  if (check.status !== 0) {
    console.error(`haproxy.js: haproxy refused ${config}:\n${check.stdout}${check.stderr}`);
    return shutdown('failure', 1).then(() => {});
  }
  // -db: stay in the foreground, warnings (servers going UP and DOWN) on stderr.
  const proc = spawn('haproxy', ['-db', '-f', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  haproxy = proc;
  haproxyExited = new Promise((resolve) => proc.on('exit', resolve));
  const onLine = (line: string): void => {
    const m = /Server app\/(app\d+) is (UP|DOWN)/.exec(line);
    if (m) {
      serverState.set(m[1]!, m[2] as 'UP' | 'DOWN');
      for (const w of stateWaiters.splice(0)) w();
    }
  };
  relay(proc.stdout!, '[haproxy]', onLine);
  relay(proc.stderr!, '[haproxy]', onLine);
  void haproxyExited.then((code) => {
    if (!stopping) {
      console.error(`haproxy.js: haproxy exited (${code}); stopping`);
      void shutdown('failure', 1);
    }
  });
  return waitForPort(PORT, 10_000).then(() => console.log(`haproxy: pid ${proc.pid} on 127.0.0.1:${PORT} (config ${config})`));
}

/** Resolves once HAProxy's state line for `name` says `state`. */
function waitForState(name: string, state: 'UP' | 'DOWN'): Promise<void> {
  return new Promise((resolve) => {
    const look = (): void => {
      if (serverState.get(name) === state) resolve();
      else stateWaiters.push(look);
    };
    look();
  });
}

/** Resolves once something accepts on 127.0.0.1:`port`; rejects after `ms`. */
async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = nodeNet.connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ── Rolling restart and shutdown ────────────────────────────────────────────────────────────
let rolling = false;
async function rollingRestart(): Promise<void> {
  if (rolling || stopping) return;
  rolling = true;
  console.log('SIGHUP: rolling restart');
  for (const inst of instances) {
    if (stopping) break;
    inst.replacing = true;
    const exited = inst.exited;
    serverState.delete(inst.name);
    inst.proc!.kill('SIGTERM'); // drains: /health fails, HAProxy marks it DOWN, it finishes and exits
    await waitForState(inst.name, 'DOWN');
    const how = await exited;
    inst.replacing = false;
    if (stopping) break;
    console.log(`${inst.name} drained (exit ${how}); starting its replacement`);
    startInstance(inst);
    await inst.listening;
    await waitForState(inst.name, 'UP');
  }
  rolling = false;
  if (!stopping) console.log('rolling restart done');
}

let exitCode: number | null = null;
async function shutdown(why: string, code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  console.log(`${why}: stopping haproxy (soft stop: it finishes its connections), then draining ${instances.length} instances`);
  // HAProxy first: it stops accepting and lets its connections finish; the instances then have
  // no client left but HAProxy's, and drain at once.
  if (haproxy !== null && haproxy.exitCode === null && haproxy.signalCode === null) haproxy.kill('SIGUSR1');
  await haproxyExited;
  for (const inst of instances) if (inst.proc !== null && inst.proc.exitCode === null && inst.proc.signalCode === null) inst.proc.kill('SIGTERM');
  await Promise.all(instances.map((inst) => inst.exited));
  rmSync(runDir, { recursive: true, force: true });
  console.log('all stopped');
  process.exit(exitCode);
}

function killEverything(signal: string): never {
  console.error(`haproxy.js: ${signal} during the shutdown: killing everything now`);
  haproxy?.kill('SIGKILL');
  for (const inst of instances) inst.proc?.kill('SIGKILL');
  rmSync(runDir, { recursive: true, force: true });
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => (stopping ? killEverything(signal) : void shutdown(signal)));
}
process.on('SIGHUP', () => void rollingRestart());

/** Exits 2 naming the first of HAProxy's and the instances' ports that something else holds. */
async function checkPortsFree(): Promise<void> {
  for (let port = PORT; port <= PORT + COUNT; port++) {
    const err = await new Promise<Error | null>((resolve) => {
      const s = nodeNet.createServer();
      s.once('error', resolve);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(null)));
    });
    if (err !== null) {
      console.error(`haproxy.js: 127.0.0.1:${port} is not free (${err.message}); choose another --port`);
      process.exit(2);
    }
  }
}

async function main(): Promise<void> {
  await checkPortsFree();
  ensureHaproxy();
  for (const inst of instances) startInstance(inst);
  await Promise.all(instances.map((inst) => inst.listening));
  if (stopping) return;
  await startHaproxy();
  if (stopping) return;
  console.log(`ready: http://127.0.0.1:${PORT}/ → ${instances.map((i) => `${i.name} 127.0.0.1:${i.port}`).join(', ')}; SIGHUP: rolling restart, SIGTERM: stop`);
}
main().catch((e: Error) => {
  console.error(`haproxy.js: ${e.message}`);
  void shutdown('failure', 1);
});
