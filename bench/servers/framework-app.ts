/**
 * The same app on Node's http or on ours, for the frameworks suite: a plain request handler,
 * Express or Fastify, each answering GET / with "Hello, World!", the plain handler over HTTPS
 * (a self-signed certificate made with openssl in a temporary directory at start), or a
 * WebSocket echo (`ws`'s `new WebSocketServer({ server })` on the plain handler's server; every
 * message goes back as a binary message). Only the server differs: node:http's (node:https's)
 * createServer, or epoll-reactor's (Express through http.createServer(app), Fastify through its
 * serverFactory, on both sides alike).
 *
 *   node dist/bench/servers/framework-app.js --app plain|express|fastify|https|ws --http node|ours
 *        [--driver standalone|node] --port N [--host 127.0.0.1]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as nodeHttp from 'node:http';
import * as nodeHttps from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { WebSocketServer } from 'ws';
import { http as ourHttp, https as ourHttps, loop } from '../../lib/index';

const USAGE = 'framework-app.js --app plain|express|fastify|https|ws --http node|ours [--driver standalone|node] --port N [--host H]';
const opts: Record<string, string> = { host: '127.0.0.1', driver: 'standalone' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i]?.replace(/^--/, '');
  const v = argv[i + 1];
  if (!k || v === undefined || !['app', 'http', 'driver', 'port', 'host'].includes(k)) {
    console.error(`usage: ${USAGE}`);
    process.exit(2);
  }
  opts[k] = v;
}
const port = Number(opts.port);
if (!['plain', 'express', 'fastify', 'https', 'ws'].includes(opts.app!) || !['node', 'ours'].includes(opts.http!) || !Number.isInteger(port) || !['standalone', 'node'].includes(opts.driver!)) {
  console.error(`usage: ${USAGE}`);
  process.exit(2);
}

const createServer = (handler: nodeHttp.RequestListener): nodeHttp.Server =>
  opts.http === 'ours' ? ourHttp.createServer({ keepAliveTimeout: 60_000 }, handler) : nodeHttp.createServer({ keepAliveTimeout: 60_000 }, handler);
const BODY = Buffer.from('Hello, World!');

/** A self-signed key and certificate, made in a temporary directory removed at once. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'framework-app-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true });
  }
}
const announce = (address: unknown): void => {
  process.stdout.write(`listening on ${opts.host}:${(address as { port: number }).port}\n`);
};

async function main(): Promise<void> {
  if (opts.app === 'fastify') {
    const app = Fastify({ serverFactory: (handler) => createServer(handler) });
    app.get('/', async () => 'Hello, World!');
    await app.listen({ port, host: opts.host!, backlog: 4096 });
    announce(app.server.address());
  } else {
    let handler: nodeHttp.RequestListener;
    const plain: nodeHttp.RequestListener = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '13' });
      res.end(BODY);
    };
    if (opts.app === 'https') {
      const options = { ...selfSigned(), keepAliveTimeout: 60_000 };
      const server = opts.http === 'ours' ? ourHttps.createServer(options, plain) : nodeHttps.createServer(options, plain);
      server.listen({ port, host: opts.host, backlog: 4096 }, () => announce(server.address()));
      return;
    }
    if (opts.app === 'express') {
      const app = express();
      app.get('/', (_req, res) => {
        res.send('Hello, World!');
      });
      handler = app;
    } else {
      handler = plain;
    }
    const server = createServer(handler);
    if (opts.app === 'ws') {
      // ws takes the upgraded connections from the server's 'upgrade' event; no compression
      // (ws's server default), so the echo is the same bytes back in one frame.
      const wss = new WebSocketServer({ server });
      wss.on('connection', (ws) => {
        ws.on('message', (data) => ws.send(data as Buffer, { binary: true }));
        ws.on('error', () => {}); // a client that resets just goes away
      });
    }
    server.listen({ port, host: opts.host, backlog: 4096 }, () => announce(server.address()));
  }
}

const stop = (): void => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The driver starts once the server listens (Fastify listens after its plugins load): a
// standalone run() with nothing to watch yet would return at once.
main().then(
  () => {
    if (opts.http === 'ours' && opts.driver === 'standalone') void loop.run();
    else if (opts.http === 'ours') loop.attach();
  },
  (e: Error) => {
    console.error(`framework-app: ${e.message}`);
    process.exit(1);
  },
);
