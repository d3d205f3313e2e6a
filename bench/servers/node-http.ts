/**
 * Node `http` server answering every request with the fixed response: the "what most Node
 * programs use" baseline. Headers are set explicitly and the Date header is turned off
 * (`res.sendDate = false`) so the bytes match the other servers'. What still differs: Node adds
 * nothing else for a keep-alive request with these headers (checked by the harness before each
 * run), but it runs the full llhttp parser, builds IncomingMessage/ServerResponse objects and
 * goes through the stream machinery per request — which is the point of including it.
 *
 *   node dist/bench/servers/node-http.js --port N [--host 127.0.0.1] [--report]
 */
import * as http from 'node:http';
import { counters, parseArgs, start } from './common';

const args = parseArgs('node-http.js --port N [--host 127.0.0.1] [--report]');

const BODY = Buffer.from('Hello, World!');
const HEADERS = { 'Content-Type': 'text/plain', 'Content-Length': '13', Connection: 'keep-alive' };

const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (_req, res) => {
  counters.requests++;
  res.sendDate = false;
  res.writeHead(200, HEADERS);
  res.end(BODY);
});

start(server, args);
