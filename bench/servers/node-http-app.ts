/**
 * The Node `http` app of the comparison: every request answered with the fixed response
 * (bench/servers/response.ts's bytes). Headers are set explicitly and the Date header is turned
 * off (`res.sendDate = false`) so the bytes match the other servers'. Served by node-http.ts
 * (one process) and node-http-cluster.ts (Node's `cluster`, N worker processes).
 */
import * as http from 'node:http';
import { counters } from './common';

const BODY = Buffer.from('Hello, World!');
const HEADERS = { 'Content-Type': 'text/plain', 'Content-Length': '13', Connection: 'keep-alive' };

export function createApp(): http.Server {
  return http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (_req, res) => {
    counters.requests++;
    res.sendDate = false;
    res.writeHead(200, HEADERS);
    res.end(BODY);
  });
}
