/**
 * What every example shares: command-line flags, choosing the driver, and the once-a-second
 * summary of the loop (`--stats` for people, `--report` for the benchmark harness).
 */
import { parseArgs } from 'node:util';
import { type Loop, loop } from '../lib/index';

export interface ExampleArgs {
  port: number;
  host: string;
  /** The listen backlog (`--backlog`, default 511 as Node's). */
  backlog: number;
  driver: 'standalone' | 'node';
  stats: boolean;
  report: boolean;
  values: Record<string, string | boolean | undefined>;
}

/**
 * Parses `--port N --host H --backlog N --driver standalone|node --stats --report --exit-after MS`
 * plus `extra` options. `--backlog`: the listen backlog (default 511, Node's default).
 * `--driver standalone` (the default): `loop.run()`, this thread sleeps in epoll_wait (fastest;
 * Node's own loop is stalled). `--driver node`: `loop.attach()`, inside Node's loop.
 */
export function exampleArgs(
  defaults: { port: number },
  extra: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }> = {},
): ExampleArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      options: {
        port: { type: 'string', default: String(defaults.port) },
        host: { type: 'string', default: '127.0.0.1' },
        backlog: { type: 'string', default: '511' },
        driver: { type: 'string', default: 'standalone' },
        stats: { type: 'boolean', default: false },
        report: { type: 'boolean', default: false },
        'exit-after': { type: 'string' },
        help: { type: 'boolean', default: false },
        ...extra,
      },
    });
  } catch (e) {
    fail((e as Error).message); // an unknown flag, a missing value: a message and exit code 2, not a stack
  }
  const values = parsed.values as Record<string, string | boolean | undefined>; // no option is `multiple`
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0..65535, got ${values.port}`);
  const backlog = Number(values.backlog);
  if (!Number.isInteger(backlog) || backlog < 0) fail(`--backlog must be a non-negative integer, got ${values.backlog}`);
  if (values.driver !== 'standalone' && values.driver !== 'node') fail(`--driver must be standalone or node, got ${values.driver}`);
  // --exit-after MS: leave through process.exit after MS milliseconds (profiles get written)
  if (values['exit-after'] !== undefined) loop.setTimeout(() => process.exit(0), Number(values['exit-after'])).unref();
  return {
    port,
    host: values.host as string,
    backlog,
    driver: values.driver as 'standalone' | 'node',
    stats: values.stats === true,
    report: values.report === true,
    values,
  };
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** Runs the default loop with the chosen driver; resolves when it stops. */
export async function drive(driver: 'standalone' | 'node', l: Loop = loop): Promise<void> {
  if (driver === 'standalone') {
    await l.run();
    return;
  }
  l.attach();
  await new Promise<void>(() => {}); // the process lives as long as the loop holds work
}

/** Counters an example bumps for the summary lines. */
export const counters = { connections: 0, requests: 0 };

/**
 * Once a second: `--stats` prints a line for people, `--report` a JSON line for the benchmark
 * harness. The timer is unref'd: it never keeps the process alive by itself.
 */
export function startReporting(args: ExampleArgs, l: Loop = loop): void {
  if (!args.stats && !args.report) return;
  let last = l.stats();
  let lastRequests = counters.requests;
  l.setInterval(() => {
    const s = l.stats();
    const mem = process.memoryUsage();
    if (args.report) {
      console.log(
        JSON.stringify({
          type: 'stats',
          iterations: s.iterations,
          wakeups: s.wakeups,
          connections: counters.connections,
          requests: counters.requests,
          rssBytes: mem.rss,
          heapUsedBytes: mem.heapUsed,
          arrayBuffersBytes: mem.arrayBuffers,
        }),
      );
    }
    if (args.stats) {
      const iterations = s.iterations - last.iterations;
      const ioWakeups = s.wakeups.io - last.wakeups.io;
      const events = s.events.delivered - last.events.delivered;
      const asleep = s.time.asleep - last.time.asleep;
      const awake = s.time.busy - last.time.busy;
      console.log(
        `conns ${counters.connections}  req/s ${counters.requests - lastRequests}  iterations ${iterations}  ` +
          `events/wakeup ${ioWakeups > 0 ? (events / ioWakeups).toFixed(1) : '0'}  ` +
          `asleep ${asleep + awake > 0 ? ((100 * asleep) / (asleep + awake)).toFixed(0) : 0}%  ` +
          `rss ${(mem.rss / 1048576).toFixed(1)} MiB`,
      );
    }
    last = s;
    lastRequests = counters.requests;
  }, 1000).unref();
}

/** The line the benchmark harness (and people) wait for. */
export function announce(address: unknown): void {
  const a = address as { address: string; port: number } | string | null;
  const text = typeof a === 'string' ? a : a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : '?';
  console.log(`listening on ${text}`);
}
