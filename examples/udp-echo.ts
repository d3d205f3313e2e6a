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
 *
 * SIGTERM or SIGINT: the socket keeps answering until no datagram has come for 200 ms (those
 * already queued in the kernel are answered), then closes — its last answers still leave — and
 * the process exits 0 (docs/signals.md).
 */
import { dgram, loop } from '../lib/index';
import { announce, counters, drive, exampleArgs, shutdownOnSignals, startReporting } from './common';

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
/** Resolves once no datagram has arrived for `quietMs`, and the socket has closed. */
function closeWhenQuiet(quietMs = 200): Promise<void> {
  return new Promise((resolve) => {
    let seen = counters.requests;
    let since = loop.now();
    const t = loop.setInterval(() => {
      if (counters.requests !== seen) {
        seen = counters.requests;
        since = loop.now();
      } else if (loop.now() - since >= quietMs) {
        t.close();
        server.close(() => resolve());
      }
    }, quietMs / 4);
  });
}
shutdownOnSignals(args, () => closeWhenQuiet());
server.bind(args.port, args.host, () => announce(server.address()));
startReporting(args);
void drive(args.driver);
