/**
 * `--workers N` for the example servers: this process becomes the primary of a pool of N copies
 * of itself (threads, or processes with `--worker-mode process`), each with its own loop and its
 * own SO_REUSEPORT listener on the port. The primary serves nothing: it restarts a worker that
 * dies, sums the workers' `--stats`, drains them all on SIGTERM or SIGINT (exit 0), and replaces
 * them one by one on SIGHUP.
 */
import { workers } from '../../lib/index';
import type { Flags, FlagValues } from '../cli';
import { intFlag, usageError } from '../cli';

/** The flags a server example with workers takes (see ExampleSpec.workers in ../common). */
export const WORKER_FLAGS: Flags = {
  workers: {
    type: 'string',
    value: 'N',
    help: 'run N workers, one loop each, sharing the port (SO_REUSEPORT); SIGHUP: rolling restart, SIGTERM: drain and exit',
  },
  'worker-mode': { type: 'string', default: 'thread', value: 'MODE', help: 'with --workers: thread (worker_threads) or process (child_process.fork)' },
  'drain-delay': {
    type: 'string',
    default: '0',
    value: 'MS',
    help: 'on SIGTERM/SIGINT, fail health checks this long before closing the listener(s) (for a load balancer)',
  },
};

/** The flags the primary keeps to itself: never passed on to a worker (`--drain-timeout` is a server flag: ../common). */
const PRIMARY_ONLY = new Set([...Object.keys(WORKER_FLAGS), 'drain-timeout', 'exit-after', 'help']);

export interface PoolArgs {
  count: number;
  mode: 'thread' | 'process';
  drainDelay: number;
  drainTimeout: number;
}

/** `--workers` and its companions, checked; null without `--workers`. A bad value exits 2. */
export function poolArgs(values: FlagValues): PoolArgs | null {
  if (values.workers === undefined) return null;
  const count = intFlag(values, 'workers', 1, 1024);
  const mode = values['worker-mode'];
  if (mode !== 'thread' && mode !== 'process') usageError(`--worker-mode must be thread or process, got ${String(mode)}`);
  return { count, mode, drainDelay: intFlag(values, 'drain-delay', 0), drainTimeout: intFlag(values, 'drain-timeout', 1) };
}

/** A worker's command line: the primary's flags as parsed, less its own, with the shared port. */
function workerArgv(values: FlagValues, port: number): string[] {
  const argv: string[] = [];
  for (const [name, v] of Object.entries(values)) {
    if (PRIMARY_ONLY.has(name) || v === undefined || v === false) continue;
    if (name === 'port') argv.push('--port', String(port));
    else if (v === true) argv.push(`--${name}`);
    else argv.push(`--${name}`, v);
  }
  return argv;
}

const STAT_KEYS = ['connections', 'requests', 'iterations', 'ioWakeups', 'events', 'asleep', 'busy', 'rssBytes', 'heapUsedBytes', 'arrayBuffersBytes'] as const;
type Stats = Record<(typeof STAT_KEYS)[number], number>;
const zero = (): Stats => Object.fromEntries(STAT_KEYS.map((k) => [k, 0])) as Stats;

/**
 * Runs the pool: `name` prefixes its messages, `values` are the parsed flags. Exit codes: 0
 * after a drain, 2 when the workers cannot start (a bad port, a port in use, a worker that
 * throws) or keep failing; a worker's own message (EADDRINUSE…) is in the line.
 */
export function runPrimary(name: string, values: FlagValues, pool: PoolArgs, announce: (address: unknown) => void): void {
  const port = intFlag(values, 'port', 0, 65535);
  const p = workers.start(process.argv[1]!, {
    count: pool.count,
    mode: pool.mode,
    argv: (_id, first) => workerArgv(values, first !== null && typeof first === 'object' ? first.port : port),
    drainDelay: pool.drainDelay,
    drainTimeout: pool.drainTimeout,
  });
  const who = (w: workers.WorkerInfo): string => `worker ${w.id} (${w.mode} ${w.tid})`;
  let up = false;
  let stopping = false;
  p.ready.then(
    () => {
      up = true;
      announce(p.address);
      console.log(`${pool.count} workers (${pool.mode === 'thread' ? 'threads' : 'processes'}) ready; SIGHUP: rolling restart, SIGTERM: drain and exit`);
    },
    (e: Error) => {
      console.error(`${name}: ${e.message}`);
      process.exit(2);
    },
  );
  p.on('restart', (w: workers.WorkerInfo, delay: number, exit: workers.WorkerExit) => {
    console.error(`${name}: ${who(w)} ${workers.describeExit(exit)}; starting a new one${delay > 0 ? ` in ${delay} ms` : ''}`);
  });
  p.on('ready', (w: workers.WorkerInfo) => {
    if (up) console.log(`${who(w)} listening (generation ${w.generation})`);
  });
  p.on('error', (e: Error) => {
    console.error(`${name}: ${e.message}`);
    void p.stop().then(() => process.exit(2));
  });
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: draining ${p.workers.length} workers`);
    void p.stop().then(() => {
      console.log('all workers drained');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping || !up) return;
    console.log('SIGHUP: rolling restart');
    p.restart().then(
      () => console.log('rolling restart done'),
      (e: Error) => console.error(`${name}: rolling restart stopped: ${e.message}`),
    );
  });
  if (values.stats === true || values.report === true) reportPool(p, values.stats === true, values.report === true);
}

/**
 * Once a second, the sums of the workers' counters: the same line (`--stats`) or JSON
 * (`--report`) a single process prints. Workers post cumulative counters; those of a worker that
 * exited stay in `retired`, so totals never go back.
 */
function reportPool(p: workers.Pool, stats: boolean, report: boolean): void {
  const retired = zero();
  p.on('exit', (w: workers.WorkerInfo) => {
    if (w.stats === null) return;
    for (const k of STAT_KEYS) if (k !== 'connections' && !k.endsWith('Bytes')) retired[k] += w.stats[k] ?? 0;
  });
  const total = (): Stats => {
    const t = { ...retired, connections: 0, rssBytes: 0, heapUsedBytes: 0, arrayBuffersBytes: 0 };
    for (const w of p.workers) for (const k of STAT_KEYS) t[k] += w.stats?.[k] ?? 0;
    // Threads share the process: its RSS is the primary's own reading, not a sum.
    if (p.mode === 'thread') t.rssBytes = process.memoryUsage().rss;
    else t.rssBytes += process.memoryUsage().rss;
    return t;
  };
  let last = total();
  setInterval(() => {
    const t = total();
    if (report) {
      const { ioWakeups, events, asleep, busy, ...rest } = t;
      console.log(JSON.stringify({ type: 'stats', workers: p.workers.length, ...rest, wakeups: { io: ioWakeups }, events, time: { asleep, busy } }));
    }
    if (stats) {
      const ioWakeups = t.ioWakeups - last.ioWakeups;
      const asleep = t.asleep - last.asleep;
      const awake = t.busy - last.busy;
      console.log(
        `workers ${p.workers.length}  conns ${t.connections}  req/s ${t.requests - last.requests}  iterations ${t.iterations - last.iterations}  ` +
          `events/wakeup ${ioWakeups > 0 ? ((t.events - last.events) / ioWakeups).toFixed(1) : '0'}  ` +
          `asleep ${asleep + awake > 0 ? ((100 * asleep) / (asleep + awake)).toFixed(0) : 0}%  ` +
          `rss ${(t.rssBytes / 1048576).toFixed(1)} MiB`,
      );
    }
    last = t;
  }, 1000).unref();
}
