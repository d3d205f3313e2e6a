/**
 * Node `dgram` echo server: the libuv baseline for the UDP echo benchmark. Every datagram goes
 * back to its sender, as in our examples/udp-echo.
 *
 *   node dist/bench/servers/node-dgram-echo.js --port N [--host 127.0.0.1] [--report]
 */
import * as dgram from 'node:dgram';
import { counters, parseArgs } from './common';

const args = parseArgs('node-dgram-echo.js --port N [--host 127.0.0.1] [--report]');
const server = dgram.createSocket('udp4');
server.on('message', (msg, rinfo) => {
  counters.requests++;
  server.send(msg, rinfo.port, rinfo.address);
});
server.bind(args.port, args.host, () => process.stdout.write(`listening on ${args.host}:${server.address().port}\n`));
if (args.report) {
  setInterval(() => process.stdout.write(`${JSON.stringify({ type: 'stats', requests: counters.requests, rssBytes: process.memoryUsage().rss })}\n`), 1000);
}
const stop = (): void => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
