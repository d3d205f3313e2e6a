/**
 * Echo server: every byte read is written back.
 *
 *   node dist/examples/echo-server.js --port 7000 [--host 127.0.0.1] [--driver standalone|node] [--stats]
 *
 * Backpressure the Node way: when write() says the queue is full, stop reading from that client
 * until 'drain'. A client that sends but never reads therefore costs at most ~16 KiB of queue.
 */
import { net } from '../lib/index';
import { announce, counters, drive, exampleArgs, startReporting } from './common';

const args = exampleArgs({ port: 7000 });

const server = net.createServer((socket) => {
  counters.connections++;
  socket.on('data', (chunk) => {
    counters.requests++;
    if (!socket.write(chunk)) socket.pause();
  });
  socket.on('drain', () => socket.resume());
  socket.on('error', () => {}); // a reset peer just goes away
  socket.on('close', () => counters.connections--);
});
server.on('error', (e) => {
  console.error(`echo-server: ${e.message}`);
  process.exit(1);
});
server.listen(args.port, args.host, () => announce(server.address()));
startReporting(args);
void drive(args.driver);
