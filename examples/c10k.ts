/**
 * C10K: ten thousand idle connections held by one thread, and what they cost.
 *
 *   node [--expose-gc] dist/examples/c10k.js [--connections 10000] [--seconds 5] [--driver standalone|node]
 *
 * The server runs here; a child process (this same file, with --client) opens the connections.
 * While they sit idle the loop sleeps in epoll_wait: the only wake-ups should be the 1-second
 * report timer's. Printed: RSS before and after (per connection), and the loop's wake-ups over
 * the idle window, by cause.
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loop, net, sys } from '../lib/index';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    driver: { type: 'string', default: 'standalone' },
    port: { type: 'string' },
    client: { type: 'string' },
  },
});
const N = Number(values.connections);

if (values.client !== undefined) runClient(Number(values.client));
else runServer();

/** The child: open N connections in waves (the listen backlog is finite), then hold them. */
function runClient(port: number): void {
  const held: number[] = [];
  let connecting = 0;
  const open = (): void => {
    while (held.length + connecting < N && connecting < 256) {
      const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
      sys.connect(fd, '127.0.0.1', port);
      connecting++;
      const w = loop.watch(fd, sys.EPOLLOUT, () => {
        w.close();
        connecting--;
        if (sys.getsockopt(fd, sys.SOL_SOCKET, sys.SO_ERROR) !== 0) {
          sys.close(fd);
        } else held.push(fd);
        open();
      });
    }
  };
  open();
  void loop.run();
  setInterval(() => {}, 1 << 30); // hold them (and this process) until the parent kills us
}

function runServer(): void {
  let connections = 0;
  let measuring = false;
  const server = net.createServer((socket) => {
    connections++;
    socket.on('error', () => {});
    socket.on('close', () => connections--);
    if (connections === N && !measuring) {
      measuring = true;
      measure();
    }
  });
  let rssBefore = 0;
  let heapBefore = 0;
  let child: ReturnType<typeof fork>;
  server.listen(0, '127.0.0.1', 8192, () => {
    const { port } = server.address() as { port: number };
    rssBefore = process.memoryUsage().rss;
    heapBefore = process.memoryUsage().heapUsed;
    console.log(`server on 127.0.0.1:${port}; opening ${N} connections from a child process…`);
    child = fork(__filename, ['--client', String(port), '--connections', String(N)], { stdio: 'inherit' });
  });

  // Every connection is in: let the last ones settle, then measure an idle window.
  function measure(): void {
    loop.setTimeout(() => {
      // With --expose-gc, collect first: RSS then counts what the connections hold, not garbage.
      (globalThis as { gc?: () => void }).gc?.();
      const mem = process.memoryUsage();
      const perConn = (mem.rss - rssBefore) / connections;
      console.log(
        `${connections} connections held: RSS ${(mem.rss / 1048576).toFixed(1)} MiB ` +
          `(+${(perConn / 1024).toFixed(2)} KiB each), JS heap +${((mem.heapUsed - heapBefore) / connections).toFixed(0)} B each`,
      );
      const before = loop.stats();
      const seconds = Number(values.seconds);
      const tick = loop.setInterval(() => {}, 1000);
      loop.setTimeout(() => {
        const after = loop.stats();
        const w = (k: keyof typeof after.wakeups) => after.wakeups[k] - before.wakeups[k];
        console.log(
          `idle for ${seconds} s with a 1 s interval timer: ${after.iterations - before.iterations} loop iterations ` +
            `(timer ${w('timer')}, io ${w('io')}, immediate ${w('immediate')}, none ${w('none')}), ` +
            `asleep ${(((after.time.asleep - before.time.asleep) / (seconds * 1000)) * 100).toFixed(1)}% of the time`,
        );
        tick.close();
        child.kill();
        server.close();
        process.exit(0);
      }, seconds * 1000 + 1);
    }, 500);
  }
  if (values.driver === 'node') loop.attach();
  else void loop.run();
}
