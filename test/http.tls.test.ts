// https and tls on the reactor: Node's TLS over our sockets, checked against Node's own servers
// (same scenario, same results) with Node's clients, curl and openssl s_client, both drivers.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type * as nodeHttp from 'node:http';
import * as nodeHttps from 'node:https';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nodeTls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyText, checkFdsEachTest, closed, drivers, listening, once, onLoop, pkg } from './helpers';

const { https, tls } = pkg;
type Loop = InstanceType<typeof pkg.Loop>;

checkFdsEachTest();

let dir = '';
let key: Buffer;
let cert: Buffer;
let otherCert: Buffer;
let certPath = '';
let otherPath = '';

/** A self-signed certificate for localhost / 127.0.0.1, made with openssl. */
function makeCert(name: string): void {
  const { status } = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`),
  ], { stdio: 'ignore' });
  expect(status).toBe(0);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'er-tls-'));
  makeCert('good');
  makeCert('other');
  key = readFileSync(join(dir, 'good.key'));
  cert = readFileSync(join(dir, 'good.pem'));
  otherCert = readFileSync(join(dir, 'other.pem'));
  certPath = join(dir, 'good.pem');
  otherPath = join(dir, 'other.pem');
});
afterAll(() => rmSync(dir, { recursive: true }));

type MakeHttps = (options: nodeHttps.ServerOptions, handler?: nodeHttp.RequestListener) => nodeHttps.Server;
const nodeMake: MakeHttps = (options, handler) => nodeHttps.createServer(options, handler);
const ourMake =
  (loop: Loop): MakeHttps =>
  (options, handler) =>
    https.createServer({ ...options, loop }, handler);

async function sameAsNode<T>(scenario: (make: MakeHttps) => Promise<T>): Promise<T> {
  const expected = await scenario(nodeMake);
  for (const driver of drivers) {
    const got = await onLoop(driver, (loop) => scenario(ourMake(loop)));
    expect(got, `${driver} driver`).toEqual(expected);
  }
  return expected;
}




/** openssl s_client: sends `input`, resolves with what it printed (the verify result, the reply). */
function sClient(port: number, args: string[], input: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-ign_eof', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(input);
  });
}

describe('https.createServer', () => {
  it('is a real https.Server; Node’s https client: bodies, keep-alive reuse, the peer’s address', async () => {
    await sameAsNode(async (make) => {
      const server = make({ key, cert }, (req, res) => {
        let n = 0;
        req.on('data', (d) => {
          n += d.length;
        });
        req.on('end', () => res.end(`${req.method} ${n} ${req.socket.remoteAddress} ${(req.socket as nodeTls.TLSSocket).encrypted} ${(req.socket as nodeTls.TLSSocket).getProtocol()}`));
      });
      const instance = server instanceof nodeHttps.Server && server instanceof nodeTls.Server;
      const port = await listening(server);
      const agent = new nodeHttps.Agent({ keepAlive: true, maxSockets: 1, ca: cert });
      const results: string[] = [];
      const sockets: unknown[] = [];
      for (const size of [0, 1 << 20]) {
        const res = await new Promise<nodeHttp.IncomingMessage>((resolve, reject) => {
          const req = nodeHttps.request({ host: 'localhost', port, method: 'POST', agent }, resolve);
          req.on('error', reject);
          req.end(Buffer.alloc(size, 'q'));
        });
        sockets.push(res.socket);
        results.push(await bodyText(res));
      }
      agent.destroy();
      await closed(server);
      return { instance, results, reused: sockets[0] === sockets[1] };
    });
  });

  it('curl and openssl s_client verify the certificate and get their answer', async () => {
    for (const driver of drivers) {
      const got = await onLoop(driver, async (loop) => {
        const server = https.createServer({ key, cert, loop }, (req, res) => res.end(`hello ${req.url}`));
        const port = await listening(server);
        const curl = await promisify(execFile)('curl', ['-s', '--cacert', certPath, `https://localhost:${port}/c1`, `https://localhost:${port}/c2`]);
        const s = await sClient(port, ['-CAfile', certPath, '-verify_return_error'], 'GET /s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        await closed(server);
        return { curl: curl.stdout, verified: /Verify return code: 0 \(ok\)/.test(s.out), reply: /hello \/s/.test(s.out) };
      });
      expect(got, driver).toEqual({ curl: 'hello /c1hello /c2', verified: true, reply: true });
    }
  });

  it("TLS failures are 'tlsClientError's, as with Node's: plain HTTP to the TLS port, a client refusing the certificate, garbage", async () => {
    const got = await sameAsNode(async (make) => {
      const server = make({ key, cert }, (_req, res) => res.end('never'));
      const errors: string[] = [];
      server.on('tlsClientError', (e: NodeJS.ErrnoException, socket: nodeTls.TLSSocket) => errors.push(`${e.code} from ${socket.remoteAddress}`));
      const port = await listening(server);
      const next = () => new Promise((r) => server.once('tlsClientError', r));
      let seen = next();
      const plain = await promisify(execFile)('curl', ['-s', '-w', '%{http_code}', `http://127.0.0.1:${port}/`]).catch((e) => ({ stdout: `curl exit ${e.code}` }));
      await seen;
      seen = next();
      const wrongCa = await sClient(port, ['-CAfile', otherPath, '-verify_return_error'], '');
      await seen;
      seen = next();
      // bytes that are not TLS at all, then the connection reset
      await new Promise<void>((resolve) => {
        const c = nodeNet.connect(port, '127.0.0.1', () => c.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0xff])));
        c.on('error', () => {});
        c.on('close', () => resolve());
        void seen.then(() => c.destroy());
      });
      await seen;
      seen = next();
      const nodeClient = await new Promise<string>((resolve) => {
        nodeHttps.get({ host: 'localhost', port, agent: false, ca: otherCert }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? ''));
      });
      await seen;
      await closed(server);
      return { errors, plain: plain.stdout, wrongCaRefused: wrongCa.code !== 0 && /verify error|certificate/i.test(wrongCa.out), nodeClient };
    });
    expect(got.errors[0]).toBe('ERR_SSL_HTTP_REQUEST from 127.0.0.1');
    expect(got.errors).toHaveLength(4);
  });

  it('https.get through our Agent (TLS over our sockets), pooled, against our server and Node’s', async () => {
    for (const driver of drivers) {
      const got = await onLoop(driver, async (loop) => {
        const ours = https.createServer({ key, cert, loop }, (req, res) => res.end(`ours ${req.url}`));
        const theirs = nodeHttps.createServer({ key, cert }, (req, res) => res.end(`node ${req.url}`));
        const agent = new https.Agent({ loop, keepAlive: true, maxSockets: 1, ca: cert });
        const hold = loop.setInterval(() => {}, 1000); // standalone: the phase against Node's server has nothing else of ours referenced
        const out: string[] = [];
        const sockets: unknown[] = [];
        for (const server of [ours, theirs]) {
          const port = await listening(server);
          for (const path of ['/1', '/2']) {
            const res = await new Promise<nodeHttp.IncomingMessage>((resolve, reject) => https.get({ host: 'localhost', port, path, agent }, resolve).on('error', reject));
            const socket = res.socket as nodeTls.TLSSocket;
            sockets.push(socket);
            out.push(`${await bodyText(res)} ${socket.remotePort === port} ${socket.authorized}`);
          }
        }
        agent.destroy();
        await closed(ours);
        await closed(theirs);
        hold.close();
        return { out, reused: sockets[0] === sockets[1] && sockets[2] === sockets[3] };
      });
      expect(got, driver).toEqual({ out: ['ours /1 true true', 'ours /2 true true', 'node /1 true true', 'node /2 true true'], reused: true });
    }
  });
});

describe('tls', () => {
  it('tls.createServer is a real tls.Server; tls.connect runs over our socket; echo both ways', async () => {
    for (const driver of drivers) {
      const got = await onLoop(driver, async (loop) => {
        const server = tls.createServer({ key, cert, loop }, (socket) => socket.pipe(socket));
        const port = await listening(server);
        const client = tls.connect({ host: 'localhost', port, ca: cert, loop });
        await once(client, 'secureConnect');
        const info = `${client.authorized} ${client.remotePort === port} ${client.localAddress} ${client.servername}`;
        const data = Buffer.alloc(3 * 1024 * 1024, 'e');
        client.end(data);
        let echoed = 0;
        client.on('data', (d: Buffer) => {
          echoed += d.length;
        });
        await once(client, 'close');
        await closed(server);
        return { instance: server instanceof nodeTls.Server, info, echoed };
      });
      expect(got, driver).toEqual({ instance: true, info: 'true true 127.0.0.1 localhost', echoed: 3 * 1024 * 1024 });
    }
  });

  it('tls.connect takes Node’s argument forms: (port, host, options, cb), (port, options, cb), (options, cb)', async () => {
    const got = await onLoop('attached', async (loop) => {
      const server = tls.createServer({ key, cert, loop }, (socket) => socket.end(`hi ${socket.servername}`));
      const port = await listening(server);
      const read = (socket: nodeTls.TLSSocket) =>
        new Promise<string>((resolve) => {
          let b = '';
          socket.on('data', (d) => {
            b += d;
          });
          socket.on('close', () => resolve(b));
        });
      const out: string[] = [];
      let called = 0;
      const cb = () => called++;
      out.push(await read(tls.connect(port, 'localhost', { ca: cert, loop }, cb)));
      out.push(await read(tls.connect(port, { host: 'localhost', ca: cert, loop }, cb)));
      out.push(await read(tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: cert, loop }, cb)));
      await closed(server);
      return { out, called };
    });
    expect(got).toEqual({ out: ['hi localhost', 'hi localhost', 'hi localhost'], called: 3 });
  });

  it('tls.connect to a server with a certificate it does not trust fails as Node’s does', async () => {
    const server = nodeTls.createServer({ key, cert }, (s) => s.end());
    const port = await listening(server);
    const theirs = await new Promise<string>((resolve) => nodeTls.connect({ host: 'localhost', port, ca: otherCert }).on('error', (e: NodeJS.ErrnoException) => resolve(`${e.code}: ${e.message}`)));
    const ours = await new Promise<string>((resolve) => tls.connect({ host: 'localhost', port, ca: otherCert }).on('error', (e: NodeJS.ErrnoException) => resolve(`${e.code}: ${e.message}`)));
    const refused = await new Promise<string>((resolve) => tls.connect({ host: '127.0.0.1', port: 1 }).on('error', (e: NodeJS.ErrnoException) => resolve(`${e.code} ${e.syscall}`)));
    await closed(server);
    expect(ours).toBe(theirs);
    expect(refused).toBe('ECONNREFUSED connect');
  });
});
