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

// Handlers shared by every connection (`this` = the socket), as in our echo-server: the idle
// benchmark then compares the sockets themselves, not per-connection closures.
function onData(this: net.Socket, chunk: Buffer): void {
  counters.requests++;
  if (!this.write(chunk)) {
    this.pause();
    this.once('drain', onDrain);
  }
}
function onDrain(this: net.Socket): void {
  this.resume();
}
function onError(this: net.Socket): void {
  this.destroy();
}

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', onData);
  socket.on('error', onError);
});

start(server, args);
