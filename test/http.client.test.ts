// http.request/http.get through our Agent: Node's ClientRequest over our sockets, against Node's
// own server and ours, both drivers; errors as Node's client reports them.
import { mkdtempSync, rmSync } from 'node:fs';
import * as nodeHttp from 'node:http';
import type * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bodyText, checkFdsEachTest, closed, drivers, listening, once, onLoop, pkg } from './helpers';

const { http, net } = pkg;

checkFdsEachTest();




const echoHandler: nodeHttp.RequestListener = (req, res) => {
  let n = 0;
  req.on('data', (d) => {
    n += d.length;
  });
  req.on('end', () => res.end(`${req.method} ${req.url} ${n} ${req.headers['x-test'] ?? ''}`));
};

describe('http.request / http.get through our Agent', () => {
  it('GET and POST (10 MB, chunked) to Node’s server and ours; the Agent keeps one connection alive and reuses it', async () => {
    for (const driver of drivers) {
      const got = await onLoop(driver, async (loop) => {
        const agent = new http.Agent({ loop, keepAlive: true, maxSockets: 1 });
        // Standalone, run() returns once nothing of ours is referenced (Node's server is not ours,
        // and the Agent unrefs its idle sockets, as Node's does): hold the loop for the scenario.
        const hold = loop.setInterval(() => {}, 1000);
        const out: string[] = [];
        for (const server of [nodeHttp.createServer(echoHandler), http.createServer({ loop }, echoHandler)]) {
          const port = await listening(server);
          const sockets: unknown[] = [];
          const a = await new Promise<nodeHttp.IncomingMessage>((r) => http.get(`http://127.0.0.1:${port}/a`, { agent, headers: { 'x-test': 'yes' } }, r));
          sockets.push(a.socket);
          out.push(await bodyText(a));
          const b = await new Promise<nodeHttp.IncomingMessage>((r) => {
            const req = http.request({ host: '127.0.0.1', port, path: '/b', method: 'POST', agent }, r);
            for (let i = 0; i < 10; i++) req.write(Buffer.alloc(1 << 20, 'b'));
            req.end();
          });
          sockets.push(b.socket);
          out.push(await bodyText(b));
          out.push(`reused ${sockets[0] === sockets[1]}, ours ${sockets[0] instanceof net.Socket}`);
          agent.destroy();
          await closed(server);
        }
        hold.close();
        return out;
      });
      expect(got, driver).toEqual([
        'GET /a 0 yes',
        `POST /b ${10 << 20} `,
        'reused true, ours true',
        'GET /a 0 yes',
        `POST /b ${10 << 20} `,
        'reused true, ours true',
      ]);
    }
  });

  it('the default agent is ours (keep-alive as Node 20’s globalAgent); agent: false makes a fresh one of our class', async () => {
    const server = nodeHttp.createServer((_req, res) => res.end('x'));
    const port = await listening(server);
    expect(http.globalAgent).toBeInstanceOf(nodeHttp.Agent);
    expect((http.globalAgent as unknown as { options: object }).options).toMatchObject({ keepAlive: true, timeout: 5000 });
    const viaGlobal = await new Promise<nodeHttp.IncomingMessage>((r) => http.get({ host: '127.0.0.1', port }, r));
    const globalSocket = viaGlobal.socket;
    await bodyText(viaGlobal);
    const fresh = await new Promise<nodeHttp.IncomingMessage>((r) => http.get({ host: '127.0.0.1', port, agent: false }, r));
    const freshSocket = fresh.socket;
    await bodyText(fresh);
    expect(globalSocket).toBeInstanceOf(net.Socket);
    expect(freshSocket).toBeInstanceOf(net.Socket);
    expect(freshSocket).not.toBe(globalSocket);
    http.globalAgent.destroy();
    if (!freshSocket.destroyed) await once(freshSocket, 'close');
    await closed(server);
  });

  it('a Unix socket (socketPath), a timeout, and a refused connection report as Node’s client does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'er-httpc-'));
    const path = join(dir, 's.sock');
    const server = nodeHttp.createServer((req, res) => {
      if (req.url === '/slow') return; // never answers
      res.end('over unix');
    });
    await listening(server, path);
    const viaUnix = await new Promise<nodeHttp.IncomingMessage>((r) => http.get({ socketPath: path, path: '/', agent: false }, r));
    expect(await bodyText(viaUnix)).toBe('over unix');
    const timedOut = await new Promise<string>((resolve) => {
      const req = http.get({ socketPath: path, path: '/slow', agent: false, timeout: 50 });
      req.on('timeout', () => {
        req.destroy();
        resolve('timeout');
      });
      req.on('error', () => {});
    });
    expect(timedOut).toBe('timeout');
    server.closeAllConnections();
    await closed(server);
    rmSync(dir, { recursive: true });
    const refused = (get: typeof nodeHttp.get) =>
      new Promise<string>((resolve) => get({ host: '127.0.0.1', port: 1, agent: false }).on('error', (e: NodeJS.ErrnoException) => resolve(`${e.code} ${e.syscall} ${e.message}`)));
    expect(await refused(http.get)).toBe(await refused(nodeHttp.get));
  });

  it("'upgrade' and 'connect' reach the server (ours) and the client (through our Agent)", async () => {
    for (const driver of drivers) {
      const got = await onLoop(driver, async (loop) => {
        const server = http.createServer({ loop }, (_req, res) => res.end());
        server.on('upgrade', (req, socket: nodeNet.Socket, head: Buffer) => {
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`);
          socket.end(`upgraded, head ${head.toString()}`);
        });
        server.on('connect', (req, socket: nodeNet.Socket) => {
          socket.end(`HTTP/1.1 200 Connection Established\r\n\r\ntunnel to ${req.url}`);
        });
        const port = await listening(server);
        const upgrade = await new Promise<string>((resolve) => {
          const req = http.request({ host: '127.0.0.1', port, agent: new http.Agent({ loop }), headers: { Connection: 'Upgrade', Upgrade: 'test' } });
          req.on('upgrade', (res, socket, head) => {
            let b = head.toString();
            socket.on('data', (d) => {
              b += d;
            });
            socket.on('end', () => resolve(`${res.statusCode} ${b}`));
          });
          req.end('HEAD');
        });
        const connect = await new Promise<string>((resolve) => {
          const req = http.request({ host: '127.0.0.1', port, method: 'CONNECT', path: 'example.org:443', agent: new http.Agent({ loop }) });
          req.on('connect', (res, socket, head) => {
            let b = head.toString();
            socket.on('data', (d) => {
              b += d;
            });
            socket.on('end', () => resolve(`${res.statusCode} ${b}`));
          });
          req.end();
        });
        await closed(server);
        return { upgrade, connect };
      });
      expect(got, driver).toEqual({ upgrade: '101 upgraded, head HEAD', connect: '200 tunnel to example.org:443' });
    }
  });
});
