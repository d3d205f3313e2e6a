// TCP streams end to end on 127.0.0.1: exact bytes, half-close, backpressure, write callbacks,
// pause/resume, async iteration — under both drivers.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, drivers, once, onLoop, pkg } from './helpers';

const { net } = pkg;
type Loop = InstanceType<typeof pkg.Loop>;
type Socket = InstanceType<typeof net.Socket>;

checkFdsEachTest();

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function listen(loop: Loop, onConnection: (s: Socket) => void, options: Record<string, unknown> = {}) {
  const server = net.createServer({ loop, ...options }, onConnection);
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => ({ server, port: (server.address() as { port: number }).port }));
}

/** Writes `data` in random-sized pieces, respecting backpressure, then ends. */
function writeInPieces(loop: Loop, socket: Socket, data: Buffer): void {
  let off = 0;
  const next = () => {
    while (off < data.length) {
      const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 70_000));
      const ok = socket.write(data.subarray(off, off + n));
      off += n;
      if (!ok) {
        socket.once('drain', () => loop.setTimeout(next, Math.random() < 0.3 ? 1 : 0));
        return;
      }
    }
    socket.end();
  };
  next();
}

/** Collects everything until 'end', pausing now and then to force partial reads. */
function collect(loop: Loop, socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c) => {
      chunks.push(c);
      if (Math.random() < 0.05) {
        socket.pause();
        loop.setTimeout(() => socket.resume(), Math.random() * 3);
      }
    });
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

/**
 * 3 MiB in random pieces to a server made with `onConnection` (allowHalfOpen: it may answer
 * after the EOF), then EOF: whether all that came back equals what was sent.
 */
async function echoesExactly(loop: Loop, onConnection: (s: Socket) => void): Promise<boolean> {
  const { server, port } = await listen(loop, onConnection, { allowHalfOpen: true });
  const c = net.connect({ port, host: '127.0.0.1', loop });
  const payload = randomBytes(3 << 20);
  const reply = collect(loop, c);
  writeInPieces(loop, c, payload);
  const back = await reply;
  server.close();
  return back.equals(payload);
}

describe.each(drivers)('streams (%s driver)', (driver) => {
  it('5 clients × 1 MiB each way: exact bytes, random partial reads and writes, half-close', async () => {
    const result = await onLoop(driver, async (loop) => {
      const serverSaw: Promise<string>[] = [];
      const { server, port } = await listen(
        loop,
        (s) => {
          // each connection: read everything the client sends, then send back 1 MiB and end
          serverSaw.push(
            collect(loop, s).then((got) => {
              const reply = randomBytes(1 << 20);
              writeInPieces(loop, s, reply);
              return `${sha(got)}:${sha(reply)}`;
            }),
          );
        },
        { allowHalfOpen: true },
      );
      const clients = Array.from({ length: 5 }, async () => {
        const c = net.connect({ port, host: '127.0.0.1', loop, allowHalfOpen: true });
        await once(c, 'connect');
        const data = randomBytes(1 << 20);
        const reply = collect(loop, c);
        writeInPieces(loop, c, data); // ends our side: the server sees EOF, then answers
        const got = await reply;
        await once(c, 'close');
        return { sent: sha(data), got: sha(got), bytes: [c.bytesWritten, c.bytesRead] };
      });
      const done = await Promise.all(clients);
      const saw = await Promise.all(serverSaw);
      server.close();
      return { done, saw };
    });
    for (const d of result.done) expect(d.bytes).toEqual([1 << 20, 1 << 20]);
    const sent = result.done.map((d) => d.sent).sort();
    const got = result.done.map((d) => d.got).sort();
    expect(result.saw.map((s) => s.split(':')[0]).sort()).toEqual(sent);
    expect(result.saw.map((s) => s.split(':')[1]).sort()).toEqual(got);
  });

  it('10,000 × 1 KiB to a peer that does not read, then close: callbacks in order, successes before failures', async () => {
    const log = await onLoop(driver, async (loop) => {
      let serverSide!: Socket;
      const { server, port } = await listen(loop, (s) => {
        serverSide = s; // never reads
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      await once(c, 'connect');
      const order: string[] = [];
      let lastOk = -1;
      let firstFail = -1;
      const chunk = Buffer.alloc(1024, 7);
      for (let i = 0; i < 10_000; i++) {
        c.write(chunk, (err) => {
          order.push(err ? 'fail' : 'ok');
          if (err) {
            if (firstFail < 0) firstFail = i;
          } else {
            if (firstFail >= 0) throw new Error('a success after a failure');
            if (i < lastOk) throw new Error('callbacks out of order');
            lastOk = i;
          }
        });
      }
      await new Promise((r) => loop.setTimeout(r, 20));
      const queued = c.writableLength;
      c.on('error', () => {});
      const closed = once(c, 'close');
      c.destroy();
      await closed;
      order.push('close');
      serverSide.destroy();
      server.close();
      return { order, queued, lastOk, firstFail };
    });
    expect(log.order).toHaveLength(10_001);
    expect(log.order.at(-1)).toBe('close'); // every callback before 'close'
    expect(log.queued).toBeGreaterThan(0); // the peer's window filled: some writes were queued
    const oks = log.order.indexOf('fail');
    expect(log.order.slice(0, oks).every((x) => x === 'ok')).toBe(true);
    expect(log.order.slice(oks, -1).every((x) => x === 'fail')).toBe(true);
  });

  it('~100 MB then end(): the peer sees every byte, then EOF', async () => {
    const got = await onLoop(driver, async (loop) => {
      let received = 0;
      let ended = false;
      const { server, port } = await listen(loop, (s) => {
        s.on('data', (c) => {
          received += c.length;
        });
        s.on('end', () => {
          ended = true;
        });
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      await once(c, 'connect');
      const block = Buffer.alloc(1 << 20, 1);
      let sent = 0;
      await new Promise<void>((resolve) => {
        const pump = () => {
          while (sent < 100) {
            sent++;
            if (!c.write(block)) {
              c.once('drain', pump);
              return;
            }
          }
          c.end();
          resolve();
        };
        pump();
      });
      await once(c, 'close');
      server.close();
      await once(server, 'close');
      return { received, ended, written: c.bytesWritten };
    });
    expect(got).toEqual({ received: 100 << 20, ended: true, written: 100 << 20 });
  });

  it('pause() stops reading (the kernel holds the bytes); resume() delivers them in order', async () => {
    const got = await onLoop(driver, async (loop) => {
      const { server, port } = await listen(loop, (s) => {
        s.write('first|');
        loop.setTimeout(() => s.end('second'), 20);
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      const parts: string[] = [];
      c.on('data', (d) => {
        parts.push(d.toString());
        c.pause();
        expect(c.isPaused()).toBe(true);
        loop.setTimeout(() => {
          parts.push('<resume>');
          c.resume();
        }, 50);
      });
      await once(c, 'end');
      server.close();
      await once(c, 'close');
      return parts.join('');
    });
    expect(got).toBe('first|<resume>second'); // as Node's: EOF with nothing buffered ends a paused stream
  });

  it('edge-triggered: bytes still queued after a read that took its whole share are read without a new event', async () => {
    // A Unix stream socket: one send() puts all 140 KiB in the peer's receive queue at once, and
    // then nothing more arrives (no FIN either). A read takes at most 64 KiB, and no edge will
    // announce the rest: the socket re-arms its registration after each full read (_readAgain).
    const dir = mkdtempSync(join(tmpdir(), 'er-et-'));
    try {
      const got = await onLoop(driver, async (loop) => {
        const total = 140 * 1024;
        let received = 0;
        let reads = 0;
        let peer: Socket | null = null;
        let done!: () => void;
        const all = new Promise<void>((r) => (done = r));
        const server = net.createServer({ loop }, (s) => {
          peer = s;
          s.on('data', (d) => {
            reads++;
            received += d.length;
            if (received === total) done();
          });
        });
        server.listen({ path: join(dir, 'et.sock') });
        await once(server, 'listening');
        const c = net.connect({ path: join(dir, 'et.sock'), loop });
        await once(c, 'connect');
        c.write(Buffer.alloc(total, 7));
        const stuck = loop.setTimeout(() => done(), 3000); // fails below rather than hanging
        await all;
        stuck.close();
        c.destroy();
        (peer as Socket | null)?.destroy();
        server.close();
        await once(server, 'close');
        return { received, reads };
      });
      expect(got.received).toBe(140 * 1024);
      expect(got.reads).toBeGreaterThanOrEqual(3); // 64 + 64 + 12 KiB at most per read
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('edge-triggered: bytes and a reset in one event give the bytes, then the error', async () => {
    // The peer sends 'x' and resets (SO_LINGER 0) before our loop looks: one event carries
    // EPOLLIN | EPOLLERR | EPOLLHUP. The read returns 'x' (a short read); the error is for the
    // next read, which no new edge would prompt: the socket re-arms (_readAgain).
    const got = await onLoop(driver, async (loop) => {
      const { sys } = pkg;
      let accepted!: (s: Socket) => void;
      const connection = new Promise<Socket>((r) => (accepted = r));
      const { server, port } = await listen(loop, (s) => accepted(s));
      const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
      sys.connect(fd, '127.0.0.1', port);
      const s = await connection;
      const seen: string[] = [];
      s.on('data', (d) => seen.push(`data ${d.toString()}`));
      s.on('error', (e) => seen.push(`error ${(e as { code?: string }).code}`));
      const closed = new Promise((r) => s.on('close', r));
      expect(sys.send(fd, Buffer.from('x'))).toBe(1);
      sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_LINGER, sys.linger(true, 0));
      sys.close(fd); // RST
      const stuck = loop.setTimeout(() => s.destroy(), 3000); // fails below rather than hanging
      await closed;
      stuck.close();
      server.close();
      return seen;
    });
    expect(got).toEqual(['data x', 'error ECONNRESET']);
  });

  it('sockets are registered edge-triggered, the listener level-triggered (/proc/self/fdinfo of the epoll fd)', async () => {
    const got = await onLoop(driver, async (loop) => {
      let accepted = -1;
      const { server, port } = await listen(loop, (s) => {
        accepted = s.fd;
        s.end('bye');
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      await once(c, 'data');
      // fdinfo lists each registration as "tfd: <fd> events: <mask, hex> data: <token>".
      const masks = new Map<number, number>();
      for (const m of readFileSync(`/proc/self/fdinfo/${loop.epfd}`, 'latin1').matchAll(/tfd:\s+(\d+)\s+events:\s+([0-9a-f]+)/g)) {
        masks.set(Number(m[1]), Number.parseInt(m[2]!, 16));
      }
      const listener = (server as unknown as { fd: number }).fd;
      const result = { client: masks.get(c.fd)!, accepted: masks.get(accepted)!, listener: masks.get(listener)! };
      await once(c, 'close');
      server.close();
      return result;
    });
    const { EPOLLET, EPOLLIN } = pkg.sys;
    expect({ client: (got.client & EPOLLET) !== 0, accepted: (got.accepted & EPOLLET) !== 0, listener: (got.listener & EPOLLET) !== 0 }).toEqual({
      client: true,
      accepted: true,
      listener: false,
    });
    expect(got.client & EPOLLIN).toBe(EPOLLIN);
    expect(got.listener & EPOLLIN).toBe(EPOLLIN);
  });

  it('for await (const chunk of socket) reads to EOF', async () => {
    const text = await onLoop(driver, async (loop) => {
      const { server, port } = await listen(loop, (s) => {
        for (let i = 0; i < 50; i++) s.write(`line ${i}\n`);
        s.end();
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      let all = '';
      for await (const chunk of c) all += chunk.toString();
      server.close();
      return all;
    });
    expect(text.split('\n').filter(Boolean)).toHaveLength(50);
  });

  it('chunks handed to "data" stay valid after the handler returns, even when written back later', async () => {
    const ok = await onLoop(driver, async (loop) => {
      const kept: Buffer[] = [];
      const copies: Buffer[] = [];
      // allowHalfOpen: answering after the peer's EOF, as in Node
      const exact = await echoesExactly(loop, (s) => {
        s.on('data', (chunk) => {
          if (!Buffer.isBuffer(chunk) || !(chunk instanceof Buffer) || chunk.constructor !== Buffer) throw new Error('not a Buffer');
          kept.push(chunk);
          copies.push(Buffer.from(chunk));
        });
        s.on('end', () => {
          // echo everything back, long after the reads
          for (const k of kept) s.write(k);
          s.end();
        });
      });
      return exact && Buffer.concat(kept).equals(Buffer.concat(copies));
    });
    expect(ok).toBe(true);
  });

  it('onread: 3 MiB as (slab, start, end) ranges, no "data" events, one buffer per slab, bytes valid long after; echoed back exact', async () => {
    const ok = await onLoop(driver, async (loop) => {
      const ranges: [Buffer, number, number][] = [];
      const copies: Buffer[] = [];
      let dataEvents = 0;
      const exact = await echoesExactly(loop, (s) => {
        s.on('data', () => dataEvents++); // never called while onread is set
        s.onread = function (buf, start, end) {
          expect(this).toBe(s);
          expect(Buffer.isBuffer(buf) && start >= 0 && end > start && end <= buf.length).toBe(true);
          ranges.push([buf, start, end]);
          copies.push(Buffer.from(buf.subarray(start, end)));
        };
        s.on('end', () => {
          // echo everything back, long after the reads: the ranges still hold the bytes
          for (const [buf, start, end] of ranges) s.write(buf.subarray(start, end));
          s.end();
        });
      });
      const buffers = new Set(ranges.map((r) => r[0]));
      return {
        exact,
        kept: Buffer.concat(ranges.map(([b, st, e]) => b.subarray(st, e))).equals(Buffer.concat(copies)),
        dataEvents,
        reads: ranges.length,
        buffers: buffers.size,
      };
    });
    expect(ok.exact).toBe(true);
    expect(ok.kept).toBe(true);
    expect(ok.dataEvents).toBe(0);
    // many reads, a handful of slabs (256 KiB each): no buffer object per read
    expect(ok.buffers).toBeLessThan(ok.reads);
    expect(ok.buffers).toBeLessThanOrEqual(Math.ceil((3 << 20) / (192 << 10)) + 1);
  });

  it('onread: setting it starts the flow and hands over what was held first; pause() stops it; null goes back to "data"', async () => {
    const got = await onLoop(driver, async (loop) => {
      const log: string[] = [];
      const { server, port } = await listen(loop, (s) => {
        s.write('one|');
        loop.setTimeout(() => s.write('two|'), 30);
        loop.setTimeout(() => s.end('three'), 90);
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      // Nobody consumes yet: 'one|' is read and held.
      await new Promise<void>((r) => loop.setTimeout(r, 15));
      c.onread = (buf, start, end) => {
        log.push(`onread:${buf.toString('latin1', start, end)}`);
        if (log.length === 1) {
          expect(start).toBe(0); // the held chunk, handed over as (chunk, 0, chunk.length)
          c.pause();
          loop.setTimeout(() => {
            log.push('<resume>');
            c.resume();
          }, 40);
        } else {
          c.onread = null; // back to 'data' events
          c.on('data', (d: Buffer) => log.push(`data:${d}`));
        }
      };
      await once(c, 'end');
      server.close();
      await once(c, 'close');
      return log.join(' ');
    });
    expect(got).toBe('onread:one| <resume> onread:two| data:three');
  });

  it('cork()/uncork() sends several writes together; end() flushes before FIN', async () => {
    const got = await onLoop(driver, async (loop) => {
      let text = '';
      const { server, port } = await listen(loop, (s) => {
        s.on('data', (d) => {
          text += d;
        });
        s.on('end', () => s.end());
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      await once(c, 'connect');
      c.cork();
      c.write('a');
      c.write('b');
      expect(c.writableLength).toBe(2);
      c.uncork();
      c.end('c');
      await once(c, 'close');
      server.close();
      return text;
    });
    expect(got).toBe('abc');
  });

  it('a batch larger than one slice (200 sockets ready at once): every socket served once, in slices, a socket destroyed by an earlier slice is skipped', async () => {
    const result = await onLoop(driver, async (loop) => {
      const N = 200;
      const accepted: Socket[] = [];
      let victim: Socket | null = null;
      let victimGotData = false;
      let served = 0;
      const { server, port } = await listen(loop, (s) => {
        accepted.push(s);
        s.on('data', (chunk) => {
          served++;
          if (s === victim) victimGotData = true;
          // The first socket served destroys the last one accepted that was not served yet:
          // its event may sit in this batch, in this slice or a later one; it must not arrive.
          if (victim === null) {
            victim = accepted.filter((a) => a !== s).pop()!;
            victim.destroy();
          }
          s.write(chunk);
        });
        s.on('error', () => {});
      });
      const clients = Array.from({ length: N }, () => net.connect({ port, host: '127.0.0.1', loop }));
      await Promise.all(clients.map((c) => once(c, 'connect')));
      while (accepted.length < N) await new Promise<void>((r) => loop.setTimeout(r, 1));
      loop.stats({ reset: true });
      // All writes from one callback: they go out in one send_many, so the server's sockets
      // become readable together and come back in one epoll_wait.
      await new Promise<void>((r) =>
        loop.setTimeout(() => {
          clients.forEach((c, i) => c.write(`hello ${i}`));
          r();
        }, 1),
      );
      const replies = await Promise.all(
        clients.map(
          (c) =>
            new Promise<string>((resolve) => {
              let text = '';
              c.on('data', (d) => {
                text += d;
                if (text.length >= 7) resolve(text);
              });
              c.on('close', () => resolve(text === '' ? 'closed' : text));
              c.on('error', () => {});
            }),
        ),
      );
      const stats = loop.stats();
      for (const c of clients) c.destroy();
      server.close();
      return { replies, served, victimGotData, perWakeupMax: stats.events.perWakeupMax };
    }, { maxEvents: 1024 }); // more than one slice per wait (the default is one slice)
    expect(result.perWakeupMax).toBeGreaterThan(64); // the batch really was sliced
    expect(result.victimGotData).toBe(false);
    expect(result.served).toBe(199);
    expect(result.replies.filter((r) => r === 'closed')).toHaveLength(1);
    result.replies.forEach((r, i) => expect(r === 'closed' || r === `hello ${i}`).toBe(true));
  });
});

describe('Socket listener table', () => {
  it('behaves as EventEmitter\'s own: odd event names, once, off, removeAllListeners, counts', () => {
    const s = new net.Socket();
    const calls: string[] = [];
    for (const name of ['toString', 'constructor', 'hasOwnProperty', 'data']) {
      s.on(name, (v: unknown) => calls.push(`${name}:${String(v)}`));
    }
    s.once('close', () => calls.push('close-once'));
    expect(s.eventNames()).toEqual(expect.arrayContaining(['toString', 'constructor', 'hasOwnProperty', 'data', 'close']));
    for (const name of ['toString', 'constructor', 'hasOwnProperty']) s.emit(name, 1);
    s.emit('close');
    s.emit('close');
    expect(calls).toEqual(['toString:1', 'constructor:1', 'hasOwnProperty:1', 'close-once']);
    s.removeAllListeners('toString');
    s.removeAllListeners();
    expect(s.eventNames()).toEqual([]);
    s.on('data', () => calls.push('again'));
    s.emit('data');
    expect(calls.at(-1)).toBe('again');
  });
});

describe('Socket onread', () => {
  it('takes a function or null; anything else is a TypeError naming it, and changes nothing', () => {
    const loop = new pkg.Loop();
    const s = new net.Socket({ loop });
    expect(s.onread).toBe(null);
    for (const bad of [42, 'x', {}, undefined]) {
      expect(() => {
        s.onread = bad as never;
      }).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"onread"') }));
    }
    expect(s.onread).toBe(null);
    const f = () => {};
    s.onread = f;
    expect(s.onread).toBe(f);
    s.onread = null;
    expect(s.onread).toBe(null);
    s.destroy();
    loop.close({ force: true });
  });
});

describe('Socket data listeners', () => {
  it('after removeAllListeners(), a new "data" listener gets the data; once() gets one chunk; prependListener starts the flow', async () => {
    const got = await onLoop('standalone', async (loop) => {
      const log: string[] = [];
      const { server, port } = await listen(loop, (s) => {
        s.prependOnceListener('data', (d: Buffer) => log.push(`once:${d}`));
        s.on('data', (d: Buffer) => {
          log.push(`first:${d}`);
          s.removeAllListeners();
          s.on('data', (d2: Buffer) => {
            log.push(`second:${d2}`);
            s.end();
          });
        });
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      await once(c, 'connect');
      c.write('a');
      await new Promise<void>((r) => loop.setTimeout(r, 20));
      c.write('b');
      c.resume();
      await once(c, 'close');
      server.close();
      return log;
    });
    expect(got).toEqual(['once:a', 'first:a', 'second:b']);
  });
});

describe('Socket data listeners that fail', () => {
  it('with EventEmitter.captureRejections, a rejected async "data" listener becomes an "error" on the socket', async () => {
    const previous = EventEmitter.captureRejections;
    EventEmitter.captureRejections = true;
    try {
      const got = await onLoop('standalone', async (loop) => {
        let error = '';
        const { server, port } = await listen(loop, (s) => {
          s.on('error', (e: Error) => {
            error = e.message;
            s.destroy();
          });
          s.on('data', async () => {
            throw new Error('async boom');
          });
        });
        const c = net.connect({ port, host: '127.0.0.1', loop });
        await once(c, 'connect');
        c.write('x');
        await once(c, 'close');
        server.close();
        return error;
      });
      expect(got).toBe('async boom');
    } finally {
      EventEmitter.captureRejections = previous;
    }
  });

  it('a listener that throws while held data is handed over does not stop the stream', async () => {
    const thrown: unknown[] = [];
    const onUncaught = (e: unknown) => thrown.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const got = await onLoop('attached', async (loop) => {
        const log: string[] = [];
        let client: InstanceType<typeof net.Socket> | null = null;
        const { server, port } = await listen(loop, (s) => {
          // 'a' arrives before anyone listens: it is held, then handed over by resume() in a
          // nextTick, where the listener throws.
          loop.setTimeout(() => {
            let first = true;
            s.on('data', (d: Buffer) => {
              log.push(String(d));
              if (first) {
                first = false;
                throw new Error('boom');
              }
              if (log.join('') === 'abc') s.end();
            });
            client!.write('b');
            loop.setTimeout(() => client!.write('c'), 10);
          }, 30);
        });
        client = net.connect({ port, host: '127.0.0.1', loop });
        await once(client, 'connect');
        client.write('a');
        client.resume();
        await once(client, 'close');
        server.close();
        return log.join('');
      });
      expect(got).toBe('abc');
      expect(thrown.map((e) => (e as Error).message)).toEqual(['boom']);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

describe('run() and the last close', () => {
  checkFdsEachTest();
  it("returns only after the 'close' of sockets ended by their peer (the end → destroy chain runs in nextTicks)", async () => {
    const loop = new pkg.Loop();
    const events: string[] = [];
    try {
      const server = pkg.net.createServer({ loop }, (s) => {
        s.resume();
        s.on('end', () => events.push('server socket end'));
        s.on('close', () => events.push('server socket close'));
        server.close();
      });
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        const c = pkg.net.connect({ port, host: '127.0.0.1', loop }, () => c.end());
        c.resume();
        c.on('close', () => events.push('client close'));
      });
      await loop.run();
      expect(events.sort()).toEqual(['client close', 'server socket close', 'server socket end']);
    } finally {
      loop.close({ force: true });
    }
  });
});
