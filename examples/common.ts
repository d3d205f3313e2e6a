/**
 * What every example shares: command-line flags, choosing the driver, the graceful shutdown on
 * SIGTERM and SIGINT, and the once-a-second summary of the loop (`--stats` for people,
 * `--report` for the benchmark harness).
 */
import { isIP } from 'node:net';
import { type Loop, loop, type net, onSignal, workers } from '../lib/index';
import { type Command, type Flags, type FlagValues, intFlag, parseCommandLine, usageError } from './cli';
import { poolArgs, runPrimary, WORKER_FLAGS } from './support/workers';

export interface ExampleArgs {
  port: number;
  host: string;
  /** The listen backlog (`--backlog`, default 511 as Node's). */
  backlog: number;
  driver: 'standalone' | 'node';
  stats: boolean;
  report: boolean;
  values: FlagValues;
  /** `--workers N`: this process is the pool's primary and must not serve (support/workers.ts). */
  primary: boolean;
  /** This process is one of a pool's workers: listen with SO_REUSEPORT. */
  reusePort: boolean;
  /** The program's name for its messages (`http-server`). */
  name: string;
  /** `--drain-timeout`: a graceful shutdown still busy after this long gives up (exit 1). */
  drainTimeout: number;
}

/** What a server example tells `--help`, and its own flags beside {@link serverFlags}. */
export interface ExampleSpec {
  /** What the example does, in a line or three. */
  about: string;
  /** The default `--port`. */
  port: number;
  flags?: Flags;
  notes?: string[];
  /** Takes `--workers N` (support/workers.ts): the server can run as N workers on one port. */
  workers?: boolean;
}

/**
 * The flags every server example takes. A flag added here is parsed for all of them; check its
 * value in {@link exampleArgs}.
 */
export function serverFlags(port: number): Flags {
  return {
    port: { type: 'string', default: String(port), value: 'N', help: 'TCP port to listen on; 0 picks a free one' },
    host: {
      type: 'string',
      default: '127.0.0.1',
      value: 'ADDR',
      help: 'address to listen on: IPv4 or IPv6 literal, or localhost; 0.0.0.0 or :: for all interfaces',
    },
    backlog: { type: 'string', default: '511', value: 'N', help: "the listen backlog; 511 is Node's default too" },
    driver: {
      type: 'string',
      default: 'standalone',
      value: 'NAME',
      help: "standalone: await loop.run() (fastest); node: loop.attach(), inside Node's loop",
    },
    stats: { type: 'boolean', default: false, help: 'print a line a second: connections, requests/s, iterations, sleep' },
    report: { type: 'boolean', default: false, help: 'print a JSON stats line a second (for the benchmark harness)' },
    'exit-after': { type: 'string', value: 'MS', help: 'exit after MS milliseconds (through process.exit: profiles get written)' },
    'drain-timeout': {
      type: 'string',
      default: '30000',
      value: 'MS',
      help: 'on SIGTERM/SIGINT: finish what is in flight, but give up (exit 1) after this long; with --workers: kill a worker still draining',
    },
  };
}

/**
 * Parses the command line of a server example: {@link serverFlags} plus `spec.flags`. `--help`
 * prints them all and exits 0; a bad flag or value exits 2 with a message naming it.
 */
export function exampleArgs(spec: ExampleSpec): ExampleArgs {
  const flags = { ...serverFlags(spec.port), ...spec.flags, ...(spec.workers ? WORKER_FLAGS : {}) };
  const command: Command = { about: spec.about, flags, notes: spec.notes };
  const values = parseCommandLine(command);
  const port = intFlag(values, 'port', 0, 65535);
  const host = hostFlag(values);
  const backlog = intFlag(values, 'backlog', 0);
  if (values.driver !== 'standalone' && values.driver !== 'node') usageError(`--driver must be standalone or node, got ${values.driver}`);
  if (values['exit-after'] !== undefined) {
    const ms = intFlag(values, 'exit-after', 0);
    loop.setTimeout(() => process.exit(0), ms).unref();
  }
  const pool = spec.workers ? poolArgs(values) : null;
  const primary = pool !== null && !workers.isWorker;
  if (primary) runPrimary(scriptName(), values, pool, announce);
  const stats = values.stats === true && !primary;
  const report = values.report === true && !primary;
  const drainTimeout = intFlag(values, 'drain-timeout', 1);
  return { port, host, backlog, driver: values.driver, stats, report, values, primary, reusePort: workers.isWorker, name: scriptName(), drainTimeout };
}

function scriptName(): string {
  return (process.argv[1] ?? 'server').replace(/^.*\//, '').replace(/\.[cm]?js$/, '');
}

/** `--host`: an IP literal (IPv4, or IPv6 with or without brackets) or `localhost`; a usage error otherwise. */
export function hostFlag(values: FlagValues): string {
  const host = String(values.host);
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare !== 'localhost' && isIP(bare.split('%')[0]!) === 0) {
    usageError(`--host must be an IPv4 or IPv6 address or localhost (names are not resolved), got ${host}`);
  }
  return bare;
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

// ── Graceful shutdown ──────────────────────────────────────────────────────────────────────

/**
 * On the first SIGTERM or SIGINT: say so, run `stop` (stop accepting, finish what is in flight)
 * and exit 0 when it resolves. A second SIGTERM or SIGINT exits at once with 128 + the signal's
 * number (130 for SIGINT, 143 for SIGTERM, as a shell reports a process killed by it): the
 * operator who presses Ctrl-C twice means it. A stop still busy after `args.drainTimeout` ms
 * gives up with exit code 1. docs/signals.md tells the whole sequence.
 *
 * A pool's primary (`--workers N`) drains its workers on these signals already
 * (support/workers.ts), and a worker drains when its primary tells it: in either, this does
 * nothing — one handler per process, never two racing.
 */
export function shutdownOnSignals(
  args: Pick<ExampleArgs, 'name' | 'primary' | 'drainTimeout'>,
  stop: (signal: string) => Promise<void> | void,
  l: Loop = loop,
): void {
  if (args.primary || workers.isWorker) return;
  let first: string | null = null;
  const onStopSignal = (signal: string, signum: number): void => {
    if (first !== null) {
      console.error(`${args.name}: ${signal} during the shutdown (after ${first}): exiting now`);
      process.exit(128 + signum);
    }
    first = signal;
    console.log(`${signal}: shutting down (no new connections; finishing what is in flight; a second SIGINT or SIGTERM exits at once)`);
    l.setTimeout(() => {
      console.error(`${args.name}: still busy ${args.drainTimeout} ms after ${signal}; exiting`);
      process.exit(1);
    }, args.drainTimeout).unref();
    Promise.resolve()
      .then(() => stop(signal))
      .then(
        () => {
          console.log('shut down cleanly');
          process.exit(0);
        },
        (e: Error) => {
          console.error(`${args.name}: shutdown failed: ${e.message}`);
          process.exit(1);
        },
      );
  };
  // Unref'd: a server that ends by itself is not kept alive by its wish to end gracefully.
  onSignal(l, 'SIGTERM', onStopSignal).unref();
  onSignal(l, 'SIGINT', onStopSignal).unref();
}

/**
 * A TCP server's drain, as a pool worker does it (lib/workers): `hooks.onDraining()` now (a
 * health check starts failing), then after `delayMs` the listener closes (the kernel refuses new
 * connections) and `hooks.onClosing()` runs; resolves on the server's `'close'`, which comes when
 * the last connection has closed.
 */
export function drainServer(server: net.Server, hooks: workers.DrainHooks, delayMs = 0, l: Loop = loop): Promise<void> {
  hooks.onDraining?.();
  return new Promise((resolve) => {
    const close = (): void => {
      server.close(() => resolve());
      hooks.onClosing?.();
    };
    if (delayMs > 0) l.setTimeout(close, delayMs);
    else close();
  });
}

/** How {@link closeWhenQuiet} ends a connection. */
export interface QuietOptions {
  /** A connection with no bytes read or written for this long, and none queued, is ended (ms, default 200). */
  quietMs?: number;
  /** Called just before a connection is ended: a last line to the client ("server shutting down"). */
  goodbye?(socket: net.Socket): void;
}

/**
 * For a protocol with no way to tell a client "this is the last answer" (echo, chat): from the
 * call on, the server's connections are tracked; the returned function (a drain's `onClosing`)
 * then ends each connection once it has been quiet for `quietMs` — nothing read, nothing written,
 * nothing left to write — so that what a client sent before the signal is answered first. A
 * client that sends just as its connection is ended sees the FIN, HTTP keep-alive's own race;
 * one that keeps sending is stopped by the drain timeout. A connection that does not close
 * within a second of its FIN is destroyed.
 */
export function closeWhenQuiet(server: net.Server, options: QuietOptions = {}, l: Loop = loop): () => void {
  const quietMs = options.quietMs ?? 200;
  const live = new Set<net.Socket>();
  // Shared functions (`this` is the socket): no closure per connection.
  function forget(this: net.Socket): void {
    live.delete(this);
  }
  server.on('connection', (socket: net.Socket) => {
    live.add(socket);
    socket.on('close', forget);
  });
  return () => {
    const seen = new Map<net.Socket, { bytes: number; since: number }>();
    l.setInterval(() => {
      const now = l.now();
      for (const socket of live) {
        const bytes = socket.bytesRead + socket.bytesWritten;
        const last = seen.get(socket);
        if (last === undefined || last.bytes !== bytes) {
          seen.set(socket, { bytes, since: now });
        } else if (now - last.since >= quietMs && socket.writableLength === 0) {
          live.delete(socket);
          seen.delete(socket);
          options.goodbye?.(socket);
          socket.end();
          l.setTimeout(() => socket.destroy(), 1000).unref();
        }
      }
    }, Math.max(1, Math.floor(quietMs / 4))).unref();
  };
}

/** Counters an example bumps for the summary lines. */
export const counters = { connections: 0, requests: 0 };

/**
 * Once a second: `--stats` prints a line for people, `--report` a JSON line for the benchmark
 * harness. The timer is unref'd: it never keeps the process alive by itself.
 */
export function startReporting(args: ExampleArgs, l: Loop = loop): void {
  if (!args.stats && !args.report) return;
  if (workers.isWorker) {
    postStatsEverySecond(l);
    return;
  }
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

/** A pool worker's counters, cumulative, for its primary to sum (support/workers.ts). */
function postStatsEverySecond(l: Loop): void {
  l.setInterval(() => {
    const s = l.stats();
    const mem = process.memoryUsage();
    workers.postStats({
      connections: counters.connections,
      requests: counters.requests,
      iterations: s.iterations,
      ioWakeups: s.wakeups.io,
      events: s.events.delivered,
      asleep: s.time.asleep,
      busy: s.time.busy,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      arrayBuffersBytes: mem.arrayBuffers,
    });
  }, 1000).unref();
}

/** The line the benchmark harness (and people) wait for; a pool's primary says it for its workers. */
export function announce(address: unknown): void {
  if (workers.isWorker) return;
  const a = address as { address: string; port: number } | string | null;
  const text = typeof a === 'string' ? a : a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : '?';
  console.log(`listening on ${text}`);
}
