/**
 * UDP echo server: every datagram goes back to where it came from.
 *
 *   node dist/examples/udp-echo.js --port 41234 [--host 127.0.0.1] [--driver standalone|node] [--stats]
 *
 * Try it (any UDP client will do):
 *   node -e "const s = require('dgram').createSocket('udp4').on('message', (m) => { console.log(String(m)); s.close(); }); s.send('hello', 41234, '127.0.0.1')"
 * The reads take up to 64 datagrams per
 * recvmmsg, and the answers of one loop iteration leave in one sendmmsg (docs/udp.md); `--stats`
 * prints datagrams per second and loop iterations once a second.
 */
import { dgram } from '../lib/index';
import { announce, counters, drive, exampleArgs, startReporting } from './common';

const USAGE = `usage: node dist/examples/udp-echo.js [--port N] [--host ADDR] [--driver standalone|node] [--stats]

  --port N         UDP port to bind (default 41234; 0 picks a free one)
  --host ADDR      address to bind (default 127.0.0.1; an IPv6 literal makes a udp6 socket)
  --driver D       standalone (default: this thread sleeps in epoll_wait) or node (inside Node's loop)
  --stats          a line a second: datagrams/s ("req/s"), loop iterations, share of time asleep
  --help           this text`;

const args = exampleArgs({ port: 41234 });
if (args.values.help) {
  console.log(USAGE);
  process.exit(0);
}

const server = dgram.createSocket(args.host.includes(':') ? 'udp6' : 'udp4');
server.on('message', (msg, rinfo) => {
  counters.requests++;
  server.send(msg, rinfo.port, rinfo.address);
});
server.on('error', (e) => {
  console.error(`udp-echo: ${e.message}`);
  process.exit(1);
});
server.bind(args.port, args.host, () => announce(server.address()));
startReporting(args);
void drive(args.driver);
