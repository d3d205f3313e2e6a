/**
 * Echo client: sends lines (or --count messages of --size bytes) and prints what comes back.
 *
 *   node dist/examples/echo-client.js --port 7000 [--host 127.0.0.1] [--message hello] [--count 3]
 *
 * Uses the default loop as a Node script would: connect, and it runs by itself.
 */
import { net } from '../lib/index';
import { intFlag, parseCommandLine } from './cli';
import { hostFlag } from './common';

const values = parseCommandLine({
  about: 'Echo client: sends --count lines to an echo server, one at a time, and prints what comes back.\nIt uses the default loop as a Node script would: connect, and it runs by itself.',
  flags: {
    port: { type: 'string', default: '7000', value: 'N', help: 'port of the server' },
    host: { type: 'string', default: '127.0.0.1', value: 'ADDR', help: 'address of the server: an IPv4 or IPv6 literal or localhost' },
    message: { type: 'string', default: 'hello', value: 'TEXT', help: 'the text of each line (numbered)' },
    count: { type: 'string', default: '3', value: 'N', help: 'round trips to make' },
  },
  notes: ['start a server first: node dist/examples/echo-server.js --port 7000'],
});
const port = intFlag(values, 'port', 1, 65535);
const host = hostFlag(values);
const count = intFlag(values, 'count', 1);
const message = String(values.message);

const socket = net.connect(port, host);
let sent = 0;
let pending = '';
const start = process.hrtime.bigint();
socket.on('connect', () => {
  console.log(`connected to ${socket.remoteAddress}:${socket.remotePort} from port ${socket.localPort}`);
  socket.write(`${message} ${++sent}\n`);
});
socket.on('data', (chunk) => {
  pending += chunk.toString();
  let nl = pending.indexOf('\n');
  while (nl >= 0) {
    console.log(`echo: ${pending.slice(0, nl)}`);
    pending = pending.slice(nl + 1);
    nl = pending.indexOf('\n');
    if (sent < count) socket.write(`${message} ${++sent}\n`);
    else socket.end();
  }
});
socket.on('close', () => {
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`closed after ${sent} round trips in ${ms.toFixed(1)} ms (read ${socket.bytesRead} B, wrote ${socket.bytesWritten} B)`);
});
socket.on('error', (e) => {
  console.error(`echo-client: ${e.message}`);
  process.exitCode = 1;
});
