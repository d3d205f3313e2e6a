/**
 * HTTPS on epoll-reactor: Node's own https.Server (OpenSSL through Node's TLSSocket) over our
 * sockets.
 *
 *   node dist/examples/https-server.js --port 8443 [--cert-dir DIR] [--driver standalone|node]
 *   curl --cacert ~/.cache/epoll-reactor/https-example/cert.pem https://localhost:8443/
 *
 * The first run makes a self-signed certificate for localhost and 127.0.0.1 with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
 *     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out cert.pem
 * in --cert-dir (default: $XDG_CACHE_HOME/epoll-reactor/https-example, or
 * ~/.cache/epoll-reactor/https-example): outside the source tree, reused by later runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { https } from '../lib/index';
import { usageError } from './cli';
import { announce, drive, exampleArgs } from './common';

const defaultDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'epoll-reactor', 'https-example');
const args = exampleArgs({
  about: "HTTPS: Node's own https.Server over epoll-reactor's sockets, with a self-signed certificate\nmade by openssl on the first run.",
  port: 8443,
  flags: { 'cert-dir': { type: 'string', default: defaultDir, value: 'DIR', help: 'where key.pem and cert.pem are (made there if missing)' } },
  notes: [`try: curl --cacert ${join(defaultDir, 'cert.pem')} https://localhost:8443/`],
});

/** key.pem and cert.pem in `dir`, made with openssl when missing. */
function certificate(dir: string): { key: Buffer; cert: Buffer } {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  if (!existsSync(keyPath) || !existsSync(certPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '365',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout', keyPath, '-out', certPath,
      ], { stdio: 'ignore' });
    } catch (e) {
      usageError(`could not make a certificate with openssl in ${dir}: ${(e as Error).message}`);
    }
    console.log(`made a self-signed certificate: ${certPath}`);
  }
  return { key: readFileSync(keyPath), cert: readFileSync(certPath) };
}

const { key, cert } = certificate(String(args.values['cert-dir']));
const server = https.createServer({ key, cert }, (req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end(`Hello over ${(req.socket as import('node:tls').TLSSocket).getProtocol()} from epoll-reactor: ${req.method} ${req.url}\n`);
});
server.on('tlsClientError', (e, socket) => console.error(`tls error from ${socket.remoteAddress}: ${e.message}`));
server.on('error', (e) => {
  console.error(`https-server: ${e.message}`);
  process.exit(1);
});
server.listen({ port: args.port, host: args.host, backlog: args.backlog }, () => announce(server.address()));
void drive(args.driver);
