/**
 * Lesson 8 — one epoll set, every kind of fd.
 *
 *   node dist/examples/learn/08-every-kind-of-fd.js [--quick] [--json]
 *
 * Seven things that are not sockets in the usual sense sit in one loop's epoll set, each made by
 * its own syscall: a TCP listener (`socket`, `bind`, `listen`), a UDP socket, a timerfd, an
 * eventfd, an inotify fd watching a directory, the pidfd of a child process (`posix_spawn`, then
 * `pidfd_open`), and a signal (`onSignal`: libuv's signal handling lives in an epoll fd of its
 * own, and that epoll fd sits in ours — an epoll set inside an epoll set). A child process then
 * pokes them one by one: it connects, sends a datagram, creates a file, writes the eventfd,
 * sends us SIGUSR2, and exits; the timerfd rings in between. Each wait of the loop prints how
 * long it slept and which fd ended the sleep. Nothing polls: the thread sleeps in epoll_pwait2
 * between pokes. docs/learn/08-every-kind-of-fd.md checks the waits against strace.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Loop, onSignal, sys } from '../../lib/index';
import { fmt, type LessonIO, main, table } from './course';

/** One wait that ended with events: what woke it. */
export interface Wake {
  /** The wait's index in the loop's trace, its timeout and how long it really slept (ms). */
  index: number;
  timeout: number;
  slept: number;
  /** The fds the wait returned, with their names. */
  fds: number[];
  names: string[];
}

export interface Result {
  /** This process (the one whose waits strace should be read for). */
  pid: number;
  /** The loop's epoll fd, and every fd in its set by name. */
  epfd: number;
  fds: Record<string, number>;
  /** The waits that returned events, in order. */
  wakes: Wake[];
  /** Each kind, in the order it first woke the loop. */
  order: string[];
  childPid: number;
  /** What waitid(P_PIDFD) said about the child: CLD_EXITED and its status. */
  childCode: number;
  childStatus: number;
}

/** The child: pokes each fd in turn, `gapMs` apart (started with --poke). */
async function poke(tcpPort: number, udpPort: number, dir: string, parent: number, gapMs: number): Promise<void> {
  const net = await import('node:net');
  const dgram = await import('node:dgram');
  const pause = () => new Promise((r) => setTimeout(r, gapMs));
  await pause();
  await new Promise<void>((resolve) => {
    const c = net.connect(tcpPort, '127.0.0.1', () => {
      c.destroy();
      resolve();
    });
  });
  await pause();
  const u = dgram.createSocket('udp4');
  await new Promise((r) => u.send('ping', udpPort, '127.0.0.1', r));
  u.close();
  await pause();
  writeFileSync(join(dir, 'hello.txt'), 'hi');
  await pause();
  sys.eventfd_write(3, 1); // fd 3: the parent's eventfd, placed there by posix_spawn's dup2
  await pause();
  process.kill(parent, 'SIGUSR2');
  await pause();
  process.exit(7); // and the pidfd turns readable
}

/** What an fd number is, from /proc: for the fds the loop made itself. */
function kindOf(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '?';
  }
}

export async function run(io: LessonIO): Promise<Result> {
  const { say } = io;
  const gapMs = io.quick ? 40 : 300;
  const loop = new Loop({ spinUs: 0 }); // no polling before timers: every wait is a sleep
  const dir = mkdtempSync(join(tmpdir(), 'learn-08-'));
  const fds: Record<string, number> = {};
  const own: number[] = [];
  const make = (name: string, fd: number): number => {
    fds[name] = fd;
    own.push(fd);
    return fd;
  };
  let pidfd = -1;
  let childPid = -1;
  let childCode = -1;
  let childStatus = -1;
  const seen = new Map<string, number>();
  const order: string[] = [];
  const saw = (name: string) => {
    if (!seen.has(name)) order.push(name);
    seen.set(name, (seen.get(name) ?? 0) + 1);
  };
  try {
    // ── the seven fds ────────────────────────────────────────────────────────────────────
    const tcp = make('tcp', sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK));
    sys.bind(tcp, '127.0.0.1', 0);
    sys.listen(tcp, 8);
    const udp = make('udp', sys.socket(sys.AF_INET, sys.SOCK_DGRAM | sys.SOCK_NONBLOCK));
    sys.bind(udp, '127.0.0.1', 0);
    const timer = make('timerfd', sys.timerfd_create(sys.CLOCK_MONOTONIC, sys.TFD_NONBLOCK));
    const event = make('eventfd', sys.eventfd(0, sys.EFD_NONBLOCK));
    const inotify = make('inotify', sys.inotify_init1(sys.IN_NONBLOCK));
    sys.inotify_add_watch(inotify, dir, sys.IN_CREATE);

    const buf = Buffer.alloc(4096);
    loop.watch(tcp, sys.EPOLLIN, () => {
      for (let c = sys.accept4(tcp, sys.SOCK_NONBLOCK); c >= 0; c = sys.accept4(tcp, sys.SOCK_NONBLOCK)) sys.close(c);
      saw('tcp');
      // the timer rings between two pokes: armed now, for one and a half gaps from now
      sys.timerfd_settime(timer, 0, { value: Math.round(gapMs * 1.5 * 1e6) });
    });
    loop.watch(udp, sys.EPOLLIN, () => {
      while (sys.recv(udp, buf) >= 0);
      saw('udp');
    });
    loop.watch(timer, sys.EPOLLIN, () => {
      sys.timerfd_read(timer);
      saw('timerfd');
    });
    loop.watch(event, sys.EPOLLIN, () => {
      sys.eventfd_read(event);
      saw('eventfd');
    });
    loop.watch(inotify, sys.EPOLLIN, () => {
      while (sys.read(inotify, buf) > 0);
      saw('inotify');
    });
    const signal = onSignal(loop, 'SIGUSR2', () => saw('signal'));

    // ── the child: posix_spawn, the eventfd as its fd 3; then its pidfd ───────────────────
    const tcpPort = sys.getsockname(tcp).port;
    const udpPort = sys.getsockname(udp).port;
    const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
    const argv = [process.execPath, __filename, '--poke', String(tcpPort), String(udpPort), dir, String(process.pid), String(gapMs)];
    childPid = sys.posix_spawn(process.execPath, argv, env, [['dup2', event, 3]]);
    pidfd = make('pidfd', sys.pidfd_open(childPid));
    const pidWatch = loop.watch(pidfd, sys.EPOLLIN, () => {
      const st = sys.waitid(sys.P_PIDFD, pidfd, sys.WEXITED | sys.WNOHANG);
      if (st !== null) {
        childCode = st.code;
        childStatus = st.status;
      }
      pidWatch.close();
      saw('pidfd');
      signal.close();
    });

    say(`One epoll set (fd ${loop.epfd}) holding:`);
    table(say, [['name', 'fd', 'what /proc/self/fd says'], ...Object.entries(fds).map(([n, fd]) => [n, fd, kindOf(fd)])]);
    say('…and the loop\'s own fds: its alarm timerfd and, for the signal, libuv\'s signal epoll fd.');
    say(`The child (pid ${childPid}) pokes one fd every ${gapMs} ms.`);
    say();

    // ── wait until all seven have woken the loop ─────────────────────────────────────────
    // What every open fd is, now (the signal's epoll fd is closed with the last subscription).
    const links = new Map<number, string>();
    for (const name of readdirSync('/proc/self/fd')) links.set(Number(name), kindOf(Number(name)));
    loop.trace.start({ limit: 1000 });
    const deadline = Date.now() + 20 * gapMs + 5000;
    while (seen.size < 7 && Date.now() < deadline && loop.runOnce());
    loop.trace.stop();

    const named = new Map<number, string>(Object.entries(fds).map(([n, fd]) => [fd, n]));
    const nameOf = (fd: number): string => {
      const n = named.get(fd);
      if (n !== undefined) return n;
      const k = links.get(fd) ?? '?';
      return k.includes('eventpoll') ? 'signal' : k.includes('timerfd') ? 'loop alarm' : k;
    };
    const wakes: Wake[] = [];
    for (const it of loop.trace.records()) {
      if (it.events.length === 0) continue;
      const fdsWoken: number[] = [];
      for (let i = 0; i < it.events.length; i += 2) fdsWoken.push(it.events[i]!);
      wakes.push({ index: it.index, timeout: it.timeout, slept: it.slept, fds: fdsWoken, names: fdsWoken.map(nameOf) });
    }
    table(say, [
      ['wait', 'timeout ms', 'slept ms', 'woken by'],
      ...wakes.map((w) => [w.index, w.timeout < 0 ? 'none' : fmt(w.timeout, 3), fmt(w.slept, 3), w.names.map((n, i) => `${n} (fd ${w.fds[i]})`).join(', ')]),
    ]);
    say();
    say(`Order the kinds first woke the loop: ${order.join(' → ')}.`);
    say(`The child's exit, from waitid(P_PIDFD): code ${childCode === sys.CLD_EXITED ? 'CLD_EXITED' : childCode}, status ${childStatus}.`);
    return { pid: process.pid, epfd: loop.epfd, fds, wakes, order, childPid, childCode, childStatus };
  } finally {
    loop.close({ force: true });
    for (const fd of own) sys.close(fd);
    if (childCode < 0 && childPid > 0) {
      try {
        process.kill(childPid, 'SIGKILL');
      } catch {}
      if (pidfd >= 0) {
        const until = Date.now() + 2000;
        while (sys.waitid(sys.P_PIDFD, pidfd, sys.WEXITED | sys.WNOHANG) === null && Date.now() < until);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module && process.argv[2] === '--poke') {
  const [tcpPort, udpPort, dir, parent, gap] = process.argv.slice(3);
  void poke(Number(tcpPort), Number(udpPort), dir!, Number(parent), Number(gap));
} else
  main(module, run, {
    about:
      'Lesson 8 — one epoll set, every kind of fd: a TCP listener, a UDP socket, a timerfd, an eventfd,\nan inotify fd, a pidfd and a signal in one loop; a child pokes each, and every wait says what woke it.',
  });
