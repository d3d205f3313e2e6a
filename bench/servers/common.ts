/**
 * What the Node comparison servers share: the command line (`--port N [--host H] [--report]`),
 * the `listening on HOST:PORT` line the harness waits for, a once-a-second `--report` line in
 * the same shape as our examples' (`{"type":"stats",…}`), and exit on SIGTERM/SIGINT.
 */
import type { Server } from 'node:net';

export interface ServerArgs {
  port: number;
  host: string;
  report: boolean;
  /** `--driver standalone|node`, for the servers on our loop (`options.driver`). */
  driver: 'standalone' | 'node';
  /** `--workers N` (1–64), for the cluster server (`options.workers`); default 2. */
  workers: number;
}

export function parseArgs(usage: string, options: { driver?: boolean; workers?: boolean } = {}): ServerArgs {
  const a = process.argv.slice(2);
  const out: ServerArgs = { port: 0, host: '127.0.0.1', report: false, driver: 'standalone', workers: 2 };
  for (let i = 0; i < a.length; i++) {
    const k = a[i];
    if (k === '--port' && i + 1 < a.length) out.port = Number(a[++i]);
    else if (k === '--host' && i + 1 < a.length) out.host = a[++i]!;
    else if (k === '--report') out.report = true;
    else if (options.driver && k === '--driver' && (a[i + 1] === 'standalone' || a[i + 1] === 'node')) out.driver = a[++i] as ServerArgs['driver'];
    else if (options.workers && k === '--workers' && /^[1-9]\d?$/.test(a[i + 1] ?? '') && Number(a[i + 1]) <= 64) out.workers = Number(a[++i]);
    else {
      console.error(`usage: ${usage}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return out;
}

/** Counters a server keeps for its --report line. */
export const counters = { connections: 0, requests: 0 };

/**
 * Listen (backlog 4096, as the C servers), print `listening on HOST:PORT`, and with `--report`
 * print one stats line a second (this setInterval is also the idle benchmark's 1 s timer).
 */
export function start(server: Server, args: ServerArgs): void {
  server.on('connection', (socket) => {
    counters.connections++;
    socket.on('close', () => counters.connections--);
  });
  server.listen({ port: args.port, host: args.host, backlog: 4096 }, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : args.port;
    process.stdout.write(`listening on ${args.host}:${port}\n`);
  });
  if (args.report) {
    setInterval(() => {
      const m = process.memoryUsage();
      process.stdout.write(
        `${JSON.stringify({ type: 'stats', connections: counters.connections, requests: counters.requests, rssBytes: m.rss, heapUsedBytes: m.heapUsed })}\n`,
      );
    }, 1000);
  }
  const stop = (): void => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
