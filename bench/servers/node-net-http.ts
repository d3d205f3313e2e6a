/**
 * A minimal HTTP server on Node `net`: libuv with the least JavaScript. It does not parse HTTP;
 * it counts the request terminators ("\r\n\r\n") in what it reads (a 4-state matcher carried
 * from one read to the next, so a terminator split across two reads is still seen) and answers
 * with that many copies of the fixed response in one write. Enough for wrk's keep-alive GETs, and the
 * cheapest thing Node can do per request.
 *
 *   node dist/bench/servers/node-net-http.js --port N [--host 127.0.0.1] [--report]
 */
import * as net from 'node:net';
import { counters, parseArgs, start } from './common';
import { RESPONSE } from './response';

const args = parseArgs('node-net-http.js --port N [--host 127.0.0.1] [--report]');

/** Pre-built runs of 1..32 responses; more than that (rare) are concatenated. */
const runs: Buffer[] = [];
for (let i = 0; i <= 32; i++) runs.push(Buffer.concat(new Array<Buffer>(i).fill(RESPONSE)));

function responses(n: number): Buffer {
  if (n < runs.length) return runs[n]!;
  return Buffer.concat(new Array<Buffer>(n).fill(RESPONSE));
}

const CR = 13;
const LF = 10;

const server = net.createServer({ noDelay: true }, (socket) => {
  let carry = 0; // how many bytes of "\r\n\r\n" the previous chunk ended with
  socket.on('data', (chunk: Buffer) => {
    let n = 0;
    let m = carry;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === (m & 1 ? LF : CR)) {
        if (++m === 4) {
          n++;
          m = 0;
        }
      } else m = b === CR ? 1 : 0;
    }
    carry = m;
    if (n > 0) {
      counters.requests += n;
      if (!socket.write(responses(n))) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    }
  });
  socket.on('error', () => socket.destroy());
});

start(server, args);
