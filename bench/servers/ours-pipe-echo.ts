/**
 * Echo server written as `socket.pipe(socket)` on our net: the pipe row of the echo benchmark,
 * measured against the same program on Node's net (node-net-pipe-echo.ts). What it measures is
 * the stream layer over the reactor — readable 'data', writable write() and the pipe's
 * pause/resume — rather than the `'data'` handler of examples/echo-server.ts.
 *
 *   node dist/bench/servers/ours-pipe-echo.js --port N [--host 127.0.0.1] [--driver standalone|node] [--report]
 */
import { loop, net } from '../../lib/index';
import { counters, parseArgs } from './common';

const args = parseArgs('ours-pipe-echo.js --port N [--host 127.0.0.1] [--driver standalone|node] [--report]', { driver: true });

function onError(this: net.Socket): void {
  this.destroy();
}
function onClose(): void {
  counters.connections--;
}

// Sockets set TCP_NODELAY by default (as the Node servers of the comparison ask for).
const server = net.createServer((socket) => {
  counters.connections++;
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.pipe(socket);
});
server.on('error', (e) => {
  console.error(`ours-pipe-echo: ${e.message}`);
  process.exit(1);
});
server.listen({ port: args.port, host: args.host, backlog: 4096 }, () => {
  const a = server.address();
  process.stdout.write(`listening on ${args.host}:${typeof a === 'object' && a !== null ? a.port : args.port}\n`);
});
if (args.report) {
  loop.setInterval(() => {
    process.stdout.write(`${JSON.stringify({ type: 'stats', connections: counters.connections, rssBytes: process.memoryUsage().rss })}\n`);
  }, 1000);
}
const stop = (): void => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

if (args.driver === 'standalone') void loop.run();
else loop.attach();
