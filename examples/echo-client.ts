/**
 * Echo client: sends lines (or --count messages of --size bytes) and prints what comes back.
 *
 *   node dist/examples/echo-client.js --port 7000 [--host 127.0.0.1] [--message hello] [--count 3]
 *
 * Uses the default loop as a Node script would: connect, and it runs by itself.
 */
import { net } from '../lib/index';
import { exampleArgs } from './common';

const args = exampleArgs({ port: 7000 }, { message: { type: 'string', default: 'hello' }, count: { type: 'string', default: '3' } });
const count = Number(args.values.count);
const message = String(args.values.message);

const socket = net.connect(args.port, args.host);
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
