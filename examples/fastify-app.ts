/**
 * A Fastify app on epoll-reactor, through Fastify's `serverFactory`: Fastify takes the server we
 * make (a real node:http Server listening on the reactor) and serves on it as on its own.
 *
 *   node dist/examples/fastify-app.js --port 3001 [--driver standalone|node]
 *   curl http://127.0.0.1:3001/users/7
 */
import Fastify from 'fastify';
import { http } from '../lib/index';
import { announce, drive, exampleArgs } from './common';

const args = exampleArgs({
  about: "A Fastify app (schemas, JSON, route parameters) served by Node's own http.Server on\nepoll-reactor's sockets, through Fastify's serverFactory.",
  port: 3001,
  notes: ['try: curl http://127.0.0.1:3001/users/7, or curl -d \'{"a":1}\' -H content-type:application/json http://127.0.0.1:3001/echo'],
});

// ← the one line: Fastify's server made by our http
const app = Fastify({ serverFactory: (handler) => http.createServer(handler) });

app.get('/', async () => 'Hello from Fastify on epoll-reactor\n');
app.get<{ Params: { id: number } }>(
  '/users/:id',
  { schema: { params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } } },
  async (req) => ({ id: req.params.id, ip: req.ip }),
);
app.post('/echo', async (req) => req.body);

// The driver starts once Fastify listens (after its plugins load): a standalone run() with
// nothing to watch yet would return at once.
app.listen({ port: args.port, host: args.host, backlog: args.backlog }).then(
  () => {
    announce(app.server.address());
    void drive(args.driver);
  },
  (e: Error) => {
    console.error(`fastify-app: ${e.message}`);
    process.exit(1);
  },
);
