/**
 * Node `http` server answering every request with the fixed response (node-http-app.ts): the
 * "what most Node programs use" baseline. What still differs from the other servers: Node adds
 * nothing else for a keep-alive request with these headers (checked by the harness before each
 * run), but it runs the full llhttp parser, builds IncomingMessage/ServerResponse objects and
 * goes through the stream machinery per request — which is the point of including it.
 *
 *   node dist/bench/servers/node-http.js --port N [--host 127.0.0.1] [--report]
 */
import { parseArgs, start } from './common';
import { createApp } from './node-http-app';

const args = parseArgs('node-http.js --port N [--host 127.0.0.1] [--report]');

start(createApp(), args);
