/**
 * The Node `http` app of node-http.ts run by Node's `cluster` module: the primary forks N worker
 * processes (default 2), each serving the app on the shared port, and prints
 * `listening on HOST:PORT` once every worker listens. Cluster's default scheduling on Linux is
 * round-robin: the primary accepts each connection and hands it to a worker, so the primary
 * does part of the work and its CPU counts too. A worker that dies is not replaced (a benchmark
 * wants to know); the primary then exits 1. SIGTERM/SIGINT: the workers are killed, exit 0.
 *
 *   node dist/bench/servers/node-http-cluster.js --port N [--host 127.0.0.1] [--workers N]
 */
import cluster from 'node:cluster';
import { parseArgs } from './common';
import { createApp } from './node-http-app';

const args = parseArgs('node-http-cluster.js --port N [--host 127.0.0.1] [--workers N]', { workers: true });

if (cluster.isPrimary) {
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < args.workers; i++) cluster.fork();
  cluster.on('listening', (_worker, address) => {
    if (++listening === args.workers) process.stdout.write(`listening on ${args.host}:${address.port}\n`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`node-http-cluster: worker ${worker.id} ${signal ? `killed by ${signal}` : `exited with code ${code}`}`);
    process.exit(1);
  });
  const stop = (): void => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  createApp().listen({ port: args.port, host: args.host, backlog: 4096 });
}
