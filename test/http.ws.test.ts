// ws's WebSocketServer on our http.Server ('upgrade'), both drivers: 10,000 messages echoed in order.
import type * as nodeNet from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { checkFdsEachTest, drivers, once, onLoop, pkg } from './helpers';

const { http, net } = pkg;

checkFdsEachTest();

describe('ws on our http.Server', () => {
  it('10,000 messages echoed in order, text and binary; a client over our socket too', async () => {
    for (const driver of drivers) {
      const got = await onLoop(driver, async (loop) => {
        const server = http.createServer({ loop });
        const wss = new WebSocketServer({ server });
        const serverSockets: unknown[] = [];
        wss.on('connection', (ws, req) => {
          serverSockets.push(req.socket);
          ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
        });
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        const port = (server.address() as nodeNet.AddressInfo).port;
        const run = (client: WebSocket) =>
          new Promise<{ count: number; inOrder: boolean }>((resolve, reject) => {
            const N = 10_000;
            let count = 0;
            let inOrder = true;
            client.on('open', () => {
              for (let i = 0; i < N; i++) client.send(i % 2 === 0 ? String(i) : Buffer.from(String(i)));
            });
            client.on('message', (data, isBinary) => {
              if (String(data) !== String(count) || isBinary !== (count % 2 === 1)) inOrder = false;
              if (++count === N) client.close(1000, 'done');
            });
            client.on('close', (code) => (code === 1000 ? resolve({ count, inOrder }) : reject(new Error(`closed with ${code}`))));
            client.on('error', reject);
          });
        // Node's own socket under the client, then ours (ws takes a createConnection option)
        const viaNode = await run(new WebSocket(`ws://127.0.0.1:${port}`));
        const viaOurs = await run(
          new WebSocket(`ws://127.0.0.1:${port}`, { createConnection: (options: object) => net.connect({ ...options, loop }) as unknown as nodeNet.Socket }),
        );
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await new Promise<void>((resolve) => server.close(() => resolve()));
        return { viaNode, viaOurs, ourSockets: serverSockets.every((s) => s instanceof net.Socket) };
      });
      expect(got, driver).toEqual({ viaNode: { count: 10_000, inOrder: true }, viaOurs: { count: 10_000, inOrder: true }, ourSockets: true });
    }
  });
});
