/**
 * Echo server: every byte read is written back.
 *
 *   node dist/examples/echo-server.js --port 7000 [--host 127.0.0.1] [--driver standalone|node] [--stats]
 *
 * Backpressure the Node way: when write() says the queue is full, stop reading from that client
 * until 'drain'. A client that sends but never reads therefore costs at most ~16 KiB of queue.
 *
 * SIGTERM or SIGINT: the listener closes, every byte already sent is echoed, and each connection
 * is ended once it has been quiet for 200 ms; exit 0 when the last has closed (docs/signals.md).
 */
import { net } from '../lib/index';
import { announce, closeWhenQuiet, counters, drainServer, drive, exampleArgs, shutdownOnSignals, startReporting } from './common';

const args = exampleArgs({
  about: 'Echo server: every byte read is written back. A client that sends but does not read is not\nread from either (backpressure: pause on a full queue, resume on drain).',
  port: 7000,
  notes: ['try: node dist/examples/echo-client.js --port 7000, or nc 127.0.0.1 7000'],
});

// The handlers are shared by every connection (EventEmitter calls them with `this` = the
// socket), so an idle connection costs its Socket and nothing more: no closures per client.
function onData(this: net.Socket, chunk: Buffer): void {
  counters.requests++;
  if (!this.write(chunk)) this.pause();
}
function onDrain(this: net.Socket): void {
  this.resume();
}
function onError(): void {} // a reset peer just goes away
function onClose(): void {
  counters.connections--;
}

const server = net.createServer((socket) => {
  counters.connections++;
  socket.on('data', onData);
  socket.on('drain', onDrain);
  socket.on('error', onError);
  socket.on('close', onClose);
});
server.on('error', (e) => {
  console.error(`echo-server: ${e.message}`);
  process.exit(1);
});
const closeQuiet = closeWhenQuiet(server);
shutdownOnSignals(args, () => drainServer(server, { onClosing: closeQuiet }));
server.listen({ port: args.port, host: args.host, backlog: args.backlog }, () => announce(server.address()));
startReporting(args);
void drive(args.driver);
