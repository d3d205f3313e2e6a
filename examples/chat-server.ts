/**
 * Chat server: every line a client sends goes to every other client.
 *
 *   node dist/examples/chat-server.js --port 7100 [--host 127.0.0.1] [--driver standalone|node] [--stats]
 *   (then, in other terminals: nc 127.0.0.1 7100)
 *
 * Backpressure, the part that matters: broadcasting means writing to clients that may not be
 * reading. A client whose unsent output passes --max-backlog bytes (default 64 KiB) is a slow
 * reader: it is skipped — its messages are dropped and counted, not buffered — until its
 * backlog drains (the 'drain' event). So one stalled client can never make the server buffer
 * without bound, whatever the others send.
 *
 * SIGTERM or SIGINT: the listener closes; every line already sent still goes to the others; each
 * client, once quiet for 200 ms, gets "(server shutting down)" and the connection is ended; exit
 * 0 when the last has closed (docs/signals.md).
 */
import { type net as Net, loop, net } from '../lib/index';
import { intFlag } from './cli';
import { announce, closeWhenQuiet, drainServer, drive, exampleArgs, shutdownOnSignals, startReporting } from './common';

const args = exampleArgs({
  about: 'Chat server: every line a client sends goes to every other client. A client that does not\nread is skipped (its messages dropped and counted), never buffered for without bound.',
  port: 7100,
  flags: {
    'max-backlog': { type: 'string', default: String(64 * 1024), value: 'BYTES', help: "unsent bytes past which a client is a slow reader and skipped" },
  },
  notes: ['try, in other terminals: nc 127.0.0.1 7100'],
});
const MAX_BACKLOG = intFlag(args.values, 'max-backlog', 0);

interface Client {
  id: number;
  socket: Net.Socket;
  partial: string;
  slow: boolean;
  dropped: number;
}
const clients = new Set<Client>();
let nextId = 1;
const totals = { messages: 0, delivered: 0, dropped: 0 };

/**
 * Sends one read's worth of lines from `from` to every other client, in one write each. A client
 * whose unsent output is past the cap before this write is skipped for all of them: what a
 * socket holds for a slow reader is the cap plus at most one read's lines. (The check is per
 * read, not per line: the lines of one read are written in the same loop iteration, and a fast
 * reader's output of that iteration is still unsent when the next line is looked at.)
 */
function broadcast(from: Client, lines: string[]): void {
  const text = lines.map((l) => `[${from.id}] ${l}\n`).join('');
  const bytes = Buffer.from(text);
  totals.messages += lines.length;
  for (const c of clients) {
    if (c === from || c.socket.writableEnded) continue; // (ended by the shutdown: gone)
    if (c.slow || c.socket.writableLength > MAX_BACKLOG) {
      c.slow = true;
      c.dropped += lines.length;
      totals.dropped += lines.length;
      continue;
    }
    c.socket.write(bytes);
    totals.delivered += lines.length;
  }
}

const server = net.createServer((socket) => {
  const client: Client = { id: nextId++, socket, partial: '', slow: false, dropped: 0 };
  clients.add(client);
  socket.write(`welcome, you are [${client.id}]; ${clients.size} here\n`);
  socket.on('data', (chunk) => {
    const lines = (client.partial + chunk.toString('utf8')).split('\n');
    client.partial = lines.pop() ?? '';
    if (client.partial.length > 4096) client.partial = ''; // no unbounded half-lines either
    const complete = lines.filter((l) => l.length > 0).map((l) => l.replace(/\r$/, ''));
    if (complete.length > 0) broadcast(client, complete);
  });
  socket.on('drain', () => {
    if (client.slow) {
      client.slow = false;
      socket.write(`(${client.dropped} messages dropped while you were not reading)\n`);
      client.dropped = 0;
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => clients.delete(client));
});
server.on('error', (e) => {
  console.error(`chat-server: ${e.message}`);
  process.exit(1);
});
const closeQuiet = closeWhenQuiet(server, { goodbye: (socket) => socket.write('(server shutting down)\n') });
shutdownOnSignals(args, () => drainServer(server, { onClosing: closeQuiet }));
server.listen({ port: args.port, host: args.host, backlog: args.backlog }, () => announce(server.address()));
if (args.stats) {
  loop
    .setInterval(() => {
      let backlog = 0;
      let slow = 0;
      for (const c of clients) {
        backlog += c.socket.writableLength;
        if (c.slow) slow++;
      }
      console.log(
        `clients ${clients.size} (slow ${slow})  messages ${totals.messages}  delivered ${totals.delivered}  ` +
          `dropped ${totals.dropped}  queued bytes ${backlog} (max ${MAX_BACKLOG} per client + one read's lines)`,
      );
    }, 1000)
    .unref();
}
startReporting({ ...args, stats: false });
void drive(args.driver);
