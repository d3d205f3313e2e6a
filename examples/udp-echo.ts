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

const args = exampleArgs({
  about:
    'UDP echo server: every datagram goes back to where it came from. Reads take up to 64 datagrams per\nrecvmmsg; the answers of one loop iteration leave in one sendmmsg (docs/udp.md). --port is the UDP\nport; --backlog does not apply.',
  port: 41234,
  notes: ["try: node -e \"const s = require('dgram').createSocket('udp4').on('message', (m) => { console.log(String(m)); s.close(); }); s.send('hello', 41234, '127.0.0.1')\""],
});

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
