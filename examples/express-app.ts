/**
 * An Express app on epoll-reactor. The app is written as for Node; what differs is one line:
 * the server comes from our `http` (`http.createServer(app).listen(…)` instead of `app.listen(…)`,
 * which would make a node:http server).
 *
 *   node dist/examples/express-app.js --port 3000 [--driver standalone|node]
 *   curl http://127.0.0.1:3000/users/7
 */
import express from 'express';
import { http } from '../lib/index';
import { announce, drive, exampleArgs } from './common';

const args = exampleArgs({
  about: 'An Express app (routing, JSON bodies, route parameters) served by Node\'s own http.Server on\nepoll-reactor\'s sockets.',
  port: 3000,
  notes: ['try: curl http://127.0.0.1:3000/users/7, or curl -d \'{"a":1}\' -H content-type:application/json http://127.0.0.1:3000/echo'],
});

const app = express();
app.use(express.json());
app.get('/', (_req, res) => {
  res.type('text').send('Hello from Express on epoll-reactor\n');
});
app.get('/users/:id', (req, res) => {
  res.json({ id: Number(req.params.id), ip: req.ip });
});
app.post('/echo', (req, res) => {
  res.json(req.body);
});

const server = http.createServer(app); // ← the one line: our http, not node:http
server.on('error', (e) => {
  console.error(`express-app: ${e.message}`);
  process.exit(1);
});
server.listen({ port: args.port, host: args.host, backlog: args.backlog }, () => announce(server.address()));
void drive(args.driver);
