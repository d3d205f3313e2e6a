/**
 * C10K: ten thousand idle connections held by one thread, and what they cost.
 *
 *   node [--expose-gc] dist/examples/c10k.js [--connections 10000] [--seconds 10] [--driver standalone|node]
 *
 * The server runs here; a child process (this same file, with --client) opens the connections.
 * While they sit idle the loop sleeps in epoll_wait: the only wake-ups should be the 1-second
 * interval timer's. Printed: RSS per connection right after the accepts and again at the end of
 * the idle window, and the loop's wake-ups over that window, by cause.
 *
 * Each side of a connection is an fd, so the server and the child each need one per connection:
 * the program checks `ulimit -n` first and says what to run when it is too low.
 *
 * SIGTERM or SIGINT (Ctrl-C reaches the child too; it leaves the decision to the server): the
 * listener closes, the child is stopped and waited for, and the server exits 0. The connections
 * carry nothing, so nothing is in flight to finish (docs/signals.md).
 */
import { fork } from 'node:child_process';
import { loop, net, sys } from '../lib/index';
import { intFlag, parseCommandLine, requireFds, usageError } from './cli';
import { hostFlag, shutdownOnSignals } from './common';

const values = parseCommandLine({
  about:
    'C10K: a server holds --connections idle connections on one thread (a child process opens them),\n' +
    'then prints what they cost: RSS per connection, and the loop wake-ups while they sit idle.',
  flags: {
    connections: { type: 'string', default: '10000', value: 'N', help: 'connections to open and hold' },
    seconds: { type: 'string', default: '10', value: 'S', help: 'length of the idle window measured' },
    driver: { type: 'string', default: 'standalone', value: 'NAME', help: "standalone (await loop.run()) or node (loop.attach())" },
    host: { type: 'string', default: '127.0.0.1', value: 'ADDR', help: 'address to listen on and connect to (::1 for IPv6)' },
    client: { type: 'string', value: 'PORT', help: 'run as the client of a server on PORT', hidden: true },
  },
  notes: ['Needs about N + 100 fds in each of the two processes: see `ulimit -n`. --expose-gc collects before measuring RSS.'],
});
const N = intFlag(values, 'connections', 1);
const seconds = intFlag(values, 'seconds', 1);
const host = hostFlag(values);
if (values.driver !== 'standalone' && values.driver !== 'node') usageError(`--driver must be standalone or node, got ${values.driver}`);

if (values.client !== undefined) runClient(intFlag(values, 'client', 1, 65535));
else runServer();

/**
 * The child: opens N connections in waves (the listen backlog is finite), then holds them. Any
 * failure ends it with one line on stderr and exit code 1; the parent reports it.
 */
function runClient(port: number): void {
  const domain = host.includes(':') ? sys.AF_INET6 : sys.AF_INET;
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  let held = 0;
  let connecting = 0;
  function fail(what: string, e: unknown): never {
    console.error(`c10k client: ${what} failed after ${held} connections: ${(e as Error).message ?? e}`);
    process.exit(1);
  }
  const open = (): void => {
    while (held + connecting < N && connecting < 256) {
      let fd: number;
      try {
        fd = sys.socket(domain, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
        sys.connect(fd, target, port);
      } catch (e) {
        fail('socket/connect', e);
      }
      connecting++;
      const w = loop.watch(fd, sys.EPOLLOUT, () => {
        w.close();
        connecting--;
        const err = sys.getsockopt(fd, sys.SOL_SOCKET, sys.SO_ERROR);
        if (err !== 0) fail('connect', sys.makeSystemError(err, 'connect'));
        held++;
        open();
      });
    }
  };
  open();
  // The server decides when this ends: it stops us on its shutdown (SIGTERM), and if it is gone
  // (the IPC channel closed), so are we. Ctrl-C's SIGINT, sent to the whole process group, is
  // the server's to handle.
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));
  void loop.run();
  setInterval(() => {}, 1 << 30); // hold them (and this process) until the parent kills us
}

// The handlers are shared by every connection (`this` is the socket), so the figure printed is
// what the runtime spends per socket, not closures this example would make per client.
let connections = 0;
let most = 0; // the most held at once
function onError(): void {} // a reset from the client just ends the connection
function onClose(): void {
  connections--;
}

function runServer(): void {
  // The server holds one fd per connection, and so does the child it forks.
  requireFds('c10k', N, `${N.toLocaleString('en-US')} connections`, (room) => `--connections ${room}`);
  let measuring = false;
  let done = false;
  const server = net.createServer((socket) => {
    if (++connections > most) most = connections;
    socket.on('error', onError);
    socket.on('close', onClose);
    if (connections === N && !measuring) {
      measuring = true;
      measure();
    }
  });
  const giveUp = (message: string): void => {
    if (done) return;
    done = true;
    console.error(`c10k: ${message}, after ${most.toLocaleString('en-US')} of ${N.toLocaleString('en-US')} connections`);
    child?.kill('SIGKILL');
    process.exit(1);
  };
  server.on('error', (e) => giveUp(`the server failed: ${e.message}`));
  let rssBefore = 0;
  let heapBefore = 0;
  let child: ReturnType<typeof fork> | undefined;
  server.listen(0, host, 8192, () => {
    const { port } = server.address() as { port: number };
    rssBefore = process.memoryUsage().rss;
    heapBefore = process.memoryUsage().heapUsed;
    console.log(`server on ${host.includes(':') ? `[${host}]` : host}:${port}; opening ${N.toLocaleString('en-US')} connections from a child process…`);
    const c = fork(__filename, ['--client', String(port), '--connections', String(N), '--host', host], { stdio: 'inherit' });
    child = c;
    c.on('exit', (code, signal) => giveUp(`the client process exited early (${signal ?? `code ${code}`})`));
  });
  shutdownOnSignals({ name: 'c10k', primary: false, drainTimeout: 10_000 }, async () => {
    done = true; // the child's exit is expected now
    if (server.listening) server.close();
    const c = child;
    if (c !== undefined && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill();
      await exited;
    }
  });
  // Connecting 10,000 takes a second or two; a minute means something is stuck.
  loop
    .setTimeout(() => {
      if (!measuring) giveUp('the connections did not all arrive within 60 s');
    }, 60_000)
    .unref();

  const perConnection = (label: string): void => {
    (globalThis as { gc?: () => void }).gc?.(); // with --expose-gc: count what the connections hold, not garbage
    const mem = process.memoryUsage();
    console.log(
      `${label}: RSS ${(mem.rss / 1048576).toFixed(1)} MiB, +${((mem.rss - rssBefore) / connections).toFixed(0)} B per connection ` +
        `(JS heap +${((mem.heapUsed - heapBefore) / connections).toFixed(0)} B of it)`,
    );
  };

  // Every connection is in: let the last ones settle, then measure an idle window.
  function measure(): void {
    loop.setTimeout(() => {
      console.log(`${connections.toLocaleString('en-US')} connections held.`);
      perConnection('right after the accepts');
      const before = loop.stats();
      const tick = loop.setInterval(() => {}, 1000);
      loop.setTimeout(() => {
        const after = loop.stats();
        const w = (k: keyof typeof after.wakeups) => after.wakeups[k] - before.wakeups[k];
        perConnection(`after ${seconds} s idle`);
        console.log(
          `idle for ${seconds} s with a 1 s interval timer: ${after.iterations - before.iterations} loop iterations ` +
            `(timer ${w('timer')}, io ${w('io')}, immediate ${w('immediate')}, none ${w('none')}), ` +
            `asleep ${(((after.time.asleep - before.time.asleep) / (seconds * 1000)) * 100).toFixed(1)}% of the time`,
        );
        done = true;
        tick.close();
        child?.kill();
        server.close();
        process.exit(0);
      }, seconds * 1000 + 1);
    }, 500);
  }
  if (values.driver === 'node') loop.attach();
  else void loop.run();
}
