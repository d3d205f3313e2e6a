// dgram on our loop: both drivers, the batching (many datagrams per read, one send per
// iteration), what differs from Node on purpose, and no fd left behind on any path.
import * as nodeDgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { drivers, fdSnapshot, freshLoopEachTest, onLoop, once, openFds, pkg, runScript, sys } from './helpers';

const { dgram } = pkg;
type Loop = InstanceType<typeof pkg.Loop>;
type Sock = ReturnType<typeof dgram.createSocket>;
const HOST = '127.0.0.1';

function bound(loop: Loop, type: 'udp4' | 'udp6' = 'udp4', host = type === 'udp4' ? HOST : '::1'): Promise<Sock> {
  const s = dgram.createSocket({ type, loop });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => resolve(s));
  });
}

const closed = (s: Sock): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

describe.each(drivers)('dgram on the %s driver', (driver) => {
  it('echoes datagrams of every size, from 0 bytes to the largest UDP payload', async () => {
    const fds = fdSnapshot();
    await onLoop(driver, async (loop) => {
      const server = await bound(loop);
      const client = await bound(loop);
      server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
      const sizes = [0, 1, 64, 1472, 9000, 65_507];
      const got: Buffer[] = [];
      const all = new Promise<void>((resolve) =>
        client.on('message', (msg) => {
          got.push(Buffer.from(msg));
          if (got.length === sizes.length) resolve();
        }),
      );
      for (const n of sizes) client.send(Buffer.alloc(n, n % 251), server.address().port, HOST);
      await all;
      expect(got.map((b) => b.length).sort((a, b) => a - b)).toEqual(sizes);
      for (const b of got) expect(b.every((x) => x === b.length % 251)).toBe(true);
      await Promise.all([closed(client), closed(server)]);
    });
    fds.check();
  });
});

describe.each(drivers)('dgram on the %s driver: host names', (driver) => {
  // dns.lookup answers through Node's loop, which a standalone run() stalls: there, a lookup
  // of the user's own (here, one that answers in a nextTick) resolves names.
  it('binds and sends to "localhost" (attached: dns.lookup; standalone: a custom lookup)', async () => {
    const fds = fdSnapshot();
    const lookup =
      driver === 'standalone'
        ? (host: string, _family: number, cb: (e: Error | null, a: string, f: number) => void) =>
            process.nextTick(cb, null, host === 'localhost' ? '127.0.0.1' : host, 4)
        : undefined;
    await onLoop(driver, async (loop) => {
      const rx = dgram.createSocket({ type: 'udp4', loop, lookup });
      await new Promise<void>((r) => rx.bind(0, 'localhost', () => r()));
      expect(rx.address().address).toBe('127.0.0.1');
      const tx = dgram.createSocket({ type: 'udp4', loop, lookup });
      const got = once<Buffer>(rx, 'message');
      const sent = new Promise<unknown[]>((resolve) => tx.send('by name', rx.address().port, 'localhost', (...a) => resolve(a)));
      expect((await got).toString()).toBe('by name');
      expect(await sent).toEqual([null, 7]);
      await Promise.all([closed(tx), closed(rx)]);
    });
    fds.check();
  });
});

describe('dgram batching', () => {
  let loop: Loop;
  freshLoopEachTest((l) => {
    loop = l.attach();
  });

  it('a burst already queued in the kernel is delivered by one read, in one iteration', async () => {
    const rx = await bound(loop);
    const tx = nodeDgram.createSocket('udp4');
    await new Promise<void>((r) => tx.bind(0, HOST, () => r()));
    // Stop reading (detach the loop) while the burst piles up in the kernel.
    loop.detach();
    const n = 50;
    let sent = 0;
    await new Promise<void>((resolve) => {
      for (let i = 0; i < n; i++) tx.send(`m${i}`, rx.address().port, HOST, () => ++sent === n && resolve());
    });
    const iterations: number[] = [];
    const texts: string[] = [];
    const all = new Promise<void>((resolve) =>
      rx.on('message', (msg) => {
        iterations.push(loop.stats().iterations);
        texts.push(msg.toString());
        if (texts.length === n) resolve();
      }),
    );
    loop.attach();
    await all;
    expect(texts).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    expect(new Set(iterations).size).toBe(1); // one recvmmsg took all 50 (READ_MAX is 64)
    await new Promise<void>((r) => tx.close(() => r()));
    await closed(rx);
  });

  it('sends made in one iteration are queued and go out together after its callbacks', async () => {
    const rx = await bound(loop);
    const tx = await bound(loop);
    const port = rx.address().port;
    const order: string[] = [];
    let got = 0;
    const all = new Promise<void>((resolve) => rx.on('message', () => ++got === 10 && resolve()));
    loop.setImmediate(() => {
      for (let i = 0; i < 10; i++) tx.send('0123456789', port, HOST, (err, bytes) => order.push(`cb ${i} ${err} ${bytes}`));
      order.push(`queued ${tx.getSendQueueCount()} ${tx.getSendQueueSize()}`);
    });
    await all;
    expect(order[0]).toBe('queued 10 100');
    expect(order.slice(1)).toEqual(Array.from({ length: 10 }, (_, i) => `cb ${i} null 10`));
    expect([tx.getSendQueueCount(), tx.getSendQueueSize()]).toEqual([0, 0]);
    await Promise.all([closed(tx), closed(rx)]);
  });

  it('a message Buffer is never overwritten by later reads (the slab only advances)', async () => {
    const rx = await bound(loop);
    const tx = await bound(loop);
    const kept: Buffer[] = [];
    const total = 160; // 160 × 60 KB: more than one 8 MiB slab
    const chunk = 60_000;
    let got = 0;
    const all = new Promise<void>((resolve) =>
      rx.on('message', (msg) => {
        kept.push(msg);
        if (++got < total) tx.send(Buffer.alloc(chunk, got % 256), rx.address().port, HOST);
        else resolve();
      }),
    );
    tx.send(Buffer.alloc(chunk, 0), rx.address().port, HOST);
    await all;
    kept.forEach((b, i) => {
      expect(b.length).toBe(chunk);
      expect(b[0] === i % 256 && b[chunk - 1] === i % 256).toBe(true);
    });
    expect(new Set(kept.map((b) => b.buffer)).size).toBeGreaterThan(1); // the slab was replaced
    await Promise.all([closed(tx), closed(rx)]);
  });

  it('every message is delivered even when a listener throws; the first error reaches the loop', async () => {
    const rx = await bound(loop);
    const tx = nodeDgram.createSocket('udp4');
    loop.detach();
    await new Promise<void>((resolve) => {
      let sent = 0;
      for (let i = 0; i < 3; i++) tx.send(`x${i}`, rx.address().port, HOST, () => ++sent === 3 && resolve());
    });
    const seen: string[] = [];
    const errors: string[] = [];
    const all = new Promise<void>((resolve) => {
      loop.on('error', (e: Error) => {
        errors.push(e.message);
        if (seen.length === 3) resolve();
      });
    });
    rx.on('message', (msg) => {
      seen.push(msg.toString());
      throw new Error(`boom ${msg}`);
    });
    loop.attach();
    await all;
    expect(seen).toEqual(['x0', 'x1', 'x2']);
    expect(errors).toEqual(['boom x0']);
    await new Promise<void>((r) => tx.close(() => r()));
    await closed(rx);
  });
});

describe('dgram: where it differs from Node on purpose', () => {
  let loop: Loop;
  freshLoopEachTest((l) => {
    loop = l.attach();
  });

  it('close() right after send(): the datagram still goes, then the fd closes, then "close"', async () => {
    const rx = await bound(loop);
    const tx = await bound(loop);
    const fd = (tx as unknown as { _fd: number })._fd;
    const cb = new Promise<unknown[]>((resolve) => tx.send('last words', rx.address().port, HOST, (...a) => resolve(a)));
    const got = once<Buffer>(rx, 'message');
    const closedEvent = new Promise<boolean>((resolve) => tx.close(() => resolve(openFds().has(fd) && openFds().get(fd)!.startsWith('socket:'))));
    expect((await got).toString()).toBe('last words');
    expect(await cb).toEqual([null, 10]);
    expect(await closedEvent).toBe(false); // the fd was closed before 'close'
    await closed(rx);
  });

  it('bind() with a bad port throws ERR_SOCKET_BAD_PORT (Node 20 truncates it silently)', () => {
    const s = dgram.createSocket({ type: 'udp4', loop });
    for (const p of [70_000, -1, 1.5, 'abc']) {
      expect(() => s.bind(p as number)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT', name: 'RangeError' }));
    }
    s.close();
  });

  it('reusePort: two sockets bound to one port, the kernel spreads datagrams between them', async () => {
    const a = dgram.createSocket({ type: 'udp4', reusePort: true, loop });
    await new Promise<void>((r) => a.bind(0, HOST, () => r()));
    const b = dgram.createSocket({ type: 'udp4', reusePort: true, loop });
    await new Promise<void>((r) => b.bind(a.address().port, HOST, () => r()));
    expect(b.address().port).toBe(a.address().port);
    const c = dgram.createSocket({ type: 'udp4', loop });
    const err = await new Promise<Error & { code: string }>((resolve) => {
      c.on('error', resolve);
      c.bind(a.address().port, HOST);
    });
    expect(err.code).toBe('EADDRINUSE');
    await Promise.all([closed(a), closed(b), closed(c)]);
  });
});

describe('dgram: no fd left behind', () => {
  it('bind failures close the fd they made', async () => {
    const fds = fdSnapshot();
    await onLoop('attached', async (loop) => {
      const a = await bound(loop);
      for (const [port, host] of [
        [a.address().port, HOST],
        [0, '1.1.1.1'],
        [0, '::1'],
      ] as const) {
        const b = dgram.createSocket({ type: 'udp4', loop });
        const err = await new Promise<Error & { syscall: string }>((resolve) => {
          b.on('error', resolve);
          b.bind(port, host);
        });
        expect(err.syscall).toBe('bind');
        b.close();
      }
      await closed(a);
    });
    fds.check();
  });

  it('a loop force-closed under bound sockets closes their fds and emits "close"', async () => {
    const fds = fdSnapshot();
    const loop = new pkg.Loop();
    const a = await bound(loop);
    const b = await bound(loop);
    a.send('queued, never sent', b.address().port, HOST);
    const events = [once(a, 'close'), once(b, 'close')];
    loop.close({ force: true });
    await Promise.all(events);
    fds.check();
  });

  it('an unref()ed socket lets the process exit; a ref()ed one keeps it alive until closed', async () => {
    const script = (ref: boolean): string => `
      const s = pkg.dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => {
        ${ref ? '' : 's.unref();'}
        setTimeout(() => { console.log('still here'); s.close(); }, 300).unref();
      });
      process.on('exit', () => console.log('exit'));`;
    const unrefd = await runScript(script(false));
    expect(unrefd.stdout.trim()).toBe('exit');
    const refd = await runScript(script(true));
    expect(refd.stdout.trim().split('\n')).toEqual(['still here', 'exit']);
  });

  it('sys-level view: the socket fd is non-blocking and close-on-exec', async () => {
    await onLoop('attached', async (loop) => {
      const s = await bound(loop);
      const fd = (s as unknown as { _fd: number })._fd;
      expect(sys.isNonBlocking(fd)).toBe(true);
      expect(sys.isCloseOnExec(fd)).toBe(true);
      await closed(s);
    });
  });
});

describe('dgram: hostile arguments to every method', () => {
  const hostile: unknown[] = [
    undefined,
    null,
    true,
    '',
    '\0',
    'x'.repeat(100_000),
    -1,
    1.5,
    Number.NaN,
    2 ** 53,
    7n,
    Symbol('s'),
    {},
    [],
    () => 1,
    new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    ),
  ];
  const methods = [
    'bind',
    'connect',
    'send',
    'setTTL',
    'setMulticastTTL',
    'setBroadcast',
    'setMulticastLoopback',
    'setMulticastInterface',
    'addMembership',
    'dropMembership',
    'addSourceSpecificMembership',
    'dropSourceSpecificMembership',
    'setRecvBufferSize',
    'setSendBufferSize',
  ] as const;

  it('throw an Error with a code (or work), never crash, leave no fd behind, unbound and bound', async () => {
    const fds = fdSnapshot();
    await onLoop('attached', async (loop) => {
      for (const state of ['unbound', 'bound'] as const) {
        for (const method of methods) {
          for (const v of hostile) {
            const s = state === 'bound' ? await bound(loop) : dgram.createSocket({ type: 'udp4', loop });
            s.on('error', () => {}); // a bind or send that fails later reports here
            try {
              (s[method] as (...a: unknown[]) => unknown)(v, v, v);
            } catch (e) {
              const err = e as Error & { code?: unknown };
              // ours, or the trap of the hostile Proxy itself
              if (err.message !== 'trap') expect(typeof err.code, `${state} ${method}(${String(typeof v)}): ${err.message}`).toBe('string');
            }
            await new Promise<void>((r) => setImmediate(r));
            try {
              s.close();
            } catch {
              // already closed by an abort, or a pending bind took the close
            }
          }
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    });
    fds.check();
  }, 60_000);

  it('createSocket refuses what is not a type or options', () => {
    for (const v of hostile) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        expect(() => dgram.createSocket(v as never)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_TYPE' }));
      }
    }
  });
});
