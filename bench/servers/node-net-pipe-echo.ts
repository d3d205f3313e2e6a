/**
 * Node `net` echo server written as `socket.pipe(socket)`: the baseline of the pipe row of the
 * echo benchmark (bench/servers/ours-pipe-echo.ts is the same program on our net). The stream
 * machinery does the backpressure: `pipe` pauses the socket when write() returns false and
 * resumes it on 'drain'.
 *
 *   node dist/bench/servers/node-net-pipe-echo.js --port N [--host 127.0.0.1] [--report]
 */
import * as net from 'node:net';
import { parseArgs, start } from './common';

const args = parseArgs('node-net-pipe-echo.js --port N [--host 127.0.0.1] [--report]');

// pipe() does not forward errors: a reset peer would otherwise be an unhandled 'error'.
function onError(this: net.Socket): void {
  this.destroy();
}

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', onError);
  socket.pipe(socket);
});

start(server, args);
