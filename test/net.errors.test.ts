// Failures as Node users expect them: resets, writes to gone peers, refused connects, closing
// while connecting, bad arguments.
import { describe, expect, it } from 'vitest';
import { checkFdsEachTest, drivers, expectArgError, once, onLoop, pkg, type SystemError } from './helpers';

const { net, sys } = pkg;
type Loop = InstanceType<typeof pkg.Loop>;
type Socket = InstanceType<typeof net.Socket>;

checkFdsEachTest();

async function listen(loop: Loop, onConnection: (s: Socket) => void) {
  const server = net.createServer({ loop }, onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** A port nothing listens on (bound then closed). */
function closedPort(): number {
  const fd = sys.socket(sys.AF_INET, sys.SOCK_STREAM);
  sys.bind(fd, '127.0.0.1', 0);
  const { port } = sys.getsockname(fd);
  sys.close(fd);
  return port;
}

describe.each(drivers)('errors (%s driver)', (driver) => {
  it('a reset (SO_LINGER {1, 0}) reaches the peer as ECONNRESET, then close', async () => {
    const got = await onLoop(driver, async (loop) => {
      const { server, port } = await listen(loop, (s) => {
        s.on('data', () => s.resetAndDestroy());
      });
      const c = net.connect({ port, host: '127.0.0.1', loop });
      await once(c, 'connect');
      c.write('trigger');
      const events: string[] = [];
      c.on('end', () => events.push('end'));
      c.on('error', (e) => events.push((e as SystemError).code));
      await new Promise<void>((r) => c.on('close', (hadError) => r(void events.push(`close ${hadError}`))));
      server.close();
      return events;
    });
    expect(got).toEqual(['ECONNRESET', 'close true']);
  });

  it('writing to a peer that closed: EPIPE or ECONNRESET as "error", never SIGPIPE', async () => {
    const got = await onLoop(driver, async (loop) => {
      let serverSide!: Socket;
      const { server, port } = await listen(loop, (s) => {
        serverSide = s;
      });
      // allowHalfOpen: the peer's FIN does not end our side, so we keep writing into the void
      const c = net.connect({ port, host: '127.0.0.1', loop, allowHalfOpen: true });
      await once(c, 'connect');
      await new Promise((r) => loop.setTimeout(r, 10));
      serverSide.destroy();
      await new Promise((r) => loop.setTimeout(r, 10));
      const errored = new Promise<SystemError>((r) => c.on('error', r));
      const closed = new Promise((r) => c.on('close', r));
      const block = Buffer.alloc(64 * 1024);
      // the first write may still be accepted (the peer's RST has to come back first)
      const pump = (): void => {
        if (!c.destroyed && c.write(block)) loop.setTimeout(pump, 1);
      };
      pump();
      const e = await errored;
      await closed;
      server.close();
      return e.code;
    });
    expect(['EPIPE', 'ECONNRESET']).toContain(got);
  });

  it('connect to a closed port: "error" ECONNREFUSED with address and port, then "close"', async () => {
    const port = closedPort();
    const got = await onLoop(driver, async (loop) => {
      const c = net.connect({ port, host: '127.0.0.1', loop });
      const closed = new Promise((r) => c.on('close', r));
      const e = await new Promise<SystemError & { address: string; port: number }>((r) => c.on('error', r));
      await closed;
      return { code: e.code, syscall: e.syscall, address: e.address, port: e.port, fd: c.fd };
    });
    expect(got).toEqual({ code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port, fd: -1 });
  });

  it('destroy() while connecting closes the fd; no connect, no error, one close', async () => {
    const got = await onLoop(driver, async (loop) => {
      const { server, port } = await listen(loop, () => {});
      const c = net.connect({ port, host: '127.0.0.1', loop });
      const events: string[] = [];
      c.on('connect', () => events.push('connect'));
      c.on('error', () => events.push('error'));
      c.on('close', () => events.push('close'));
      expect(c.connecting).toBe(true);
      c.destroy();
      await new Promise((r) => loop.setTimeout(r, 20));
      server.close();
      return events;
    });
    expect(got).toEqual(['close']);
  });

  it('write after end() and after destroy() fail cleanly', async () => {
    const got = await onLoop(driver, async (loop) => {
      const { server, port } = await listen(loop, (s) => s.resume());
      const c = net.connect({ port, host: '127.0.0.1', loop });
      await once(c, 'connect');
      c.end();
      const errs: string[] = [];
      c.on('error', (e) => errs.push(`event ${(e as unknown as { code: string }).code}`));
      c.write('late', (e) => errs.push(`cb ${(e as { code: string } | null)?.code}`));
      await new Promise((r) => c.on('close', r));
      c.write('later', (e) => errs.push(`cb ${(e as { code: string } | null)?.code}`));
      await new Promise((r) => loop.setTimeout(r, 1));
      server.close();
      return errs;
    });
    // As Node's Writable: an ended stream reports WRITE_AFTER_END even once destroyed.
    expect(got).toEqual(['cb ERR_STREAM_WRITE_AFTER_END', 'event ERR_STREAM_WRITE_AFTER_END', 'cb ERR_STREAM_WRITE_AFTER_END']);
  });

  it('a server whose port is taken emits EADDRINUSE, with address and port', async () => {
    const got = await onLoop(driver, async (loop) => {
      const { server, port } = await listen(loop, () => {});
      const second = net.createServer({ loop }, () => {});
      second.listen(port, '127.0.0.1');
      const e = await once<SystemError & { port: number }>(second, 'error');
      server.close();
      return [e.code, e.syscall, e.port === port, second.listening];
    });
    expect(got).toEqual(['EADDRINUSE', 'listen', true, false]); // Node's syscall for a failed bind
  });
});

describe('bad arguments', () => {
  it('throw TypeError / RangeError naming the argument', () => {
    const loop = new pkg.Loop();
    // As Node's: ERR_SOCKET_BAD_PORT, "Port should be >= 0 and < 65536. Received …"
    for (const port of [70000, -1, 'x']) {
      expect(() => net.connect({ port: port as number, loop })).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }));
    }
    expectArgError(() => net.createServer('nope' as never), TypeError, 'options');
    expectArgError(() => new net.Server({ loop }, 'cb' as never), TypeError, 'connectionListener');
    const s = new net.Socket({ loop });
    expectArgError(() => s.write(42 as never), TypeError, 'chunk'); // Node's name for it
    expectArgError(() => s.setTimeout(-1), RangeError, 'msecs');
    const server = net.createServer({ loop });
    expect(() => server.listen(99999)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }));
    // A typo listens nowhere: Node's ERR_INVALID_ARG_VALUE
    expect(() => server.listen({ prot: 80 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    loop.close({ force: true });
  });
});
