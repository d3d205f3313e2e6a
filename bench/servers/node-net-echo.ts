/**
 * Node `net` echo server: the libuv baseline for the echo benchmark. Every chunk read is
 * written back as it is; reading pauses while a write is pending in the kernel-side buffer
 * (backpressure), as the C server stops reading during a partial write.
 *
 *   node dist/bench/servers/node-net-echo.js --port N [--host 127.0.0.1] [--report]
 */
import * as net from 'node:net';
import { counters, parseArgs, start } from './common';

const args = parseArgs('node-net-echo.js --port N [--host 127.0.0.1] [--report]');

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (chunk) => {
    counters.requests++;
    if (!socket.write(chunk)) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  });
  socket.on('error', () => socket.destroy());
});

start(server, args);
