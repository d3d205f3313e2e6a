/**
 * A WebSocket chat on epoll-reactor: `ws`'s WebSocketServer on our http.Server (it takes the
 * connection on 'upgrade'). Every message goes to every client, prefixed with its sender; a page
 * at / is a small browser client.
 *
 *   node dist/examples/websocket-chat.js --port 8081 [--driver standalone|node]
 *   then open http://127.0.0.1:8081/ in two browser tabs
 *
 * A client that does not read is not buffered for without bound: once 1 MiB waits for it, it
 * is skipped (and told how many messages it missed when it catches up).
 */
import { type WebSocket, WebSocketServer } from 'ws';
import { http } from '../lib/index';
import { announce, drive, exampleArgs } from './common';

const args = exampleArgs({
  about: "A WebSocket chat: ws's WebSocketServer on epoll-reactor's http.Server; every message is sent\nto every client. A page at / is a browser client.",
  port: 8081,
  notes: ['try: open http://127.0.0.1:8081/ in two tabs'],
});

const MAX_BUFFERED = 1 << 20;
const PAGE = `<!doctype html><meta charset="utf-8"><title>chat</title>
<pre id="log"></pre><form id="f"><input id="m" autofocus size="60"><button>send</button></form>
<script>
const ws = new WebSocket('ws://' + location.host + '/');
ws.onmessage = (e) => { log.textContent += e.data + '\\n'; };
f.onsubmit = (e) => { e.preventDefault(); ws.send(m.value); m.value = ''; };
</script>`;

const server = http.createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  } else {
    res.writeHead(404).end();
  }
});
const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 });
const missed = new Map<WebSocket, number>();
let nextId = 1;

function broadcast(text: string): void {
  for (const client of wss.clients) {
    if (client.readyState !== client.OPEN) continue;
    if (client.bufferedAmount > MAX_BUFFERED) {
      missed.set(client, (missed.get(client) ?? 0) + 1);
      continue;
    }
    const skipped = missed.get(client);
    if (skipped) {
      missed.delete(client);
      client.send(`* you missed ${skipped} messages`);
    }
    client.send(text);
  }
}

wss.on('connection', (ws) => {
  const name = `user${nextId++}`;
  ws.send(`* you are ${name}`);
  broadcast(`* ${name} joined`);
  ws.on('message', (data) => broadcast(`${name}: ${String(data)}`));
  ws.on('close', () => {
    missed.delete(ws);
    broadcast(`* ${name} left`);
  });
  ws.on('error', () => {}); // a reset client just goes away
});
server.on('error', (e) => {
  console.error(`websocket-chat: ${e.message}`);
  process.exit(1);
});
server.listen({ port: args.port, host: args.host, backlog: args.backlog }, () => announce(server.address()));
void drive(args.driver);
