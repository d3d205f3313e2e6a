/**
 * Lesson 1 — everything is an fd.
 *
 *   node dist/examples/learn/01-everything-is-an-fd.js [--quick] [--json]
 *
 * Four very different kernel objects — an epoll instance, a timer, a pipe and a TCP socket — are
 * each just a small integer in this process's fd table. The same calls work on all of them
 * (fcntl, poll, epoll_ctl, read), because the kernel dispatches each call through the object's
 * own table of operations (`struct file_operations`). Where an object has no such operation, the
 * call fails: an epoll fd has no `read`.
 *
 * And since an epoll instance is an fd with a `poll` operation of its own, one epoll can watch
 * another: the inner one is readable whenever its ready list is not empty.
 */
import { readlinkSync } from 'node:fs';
import { sys } from '../../lib/index';
import { type LessonIO, main, table } from './course';

export interface Result {
  fds: { name: string; fd: number; target: string; nonblocking: boolean; cloexec: boolean }[];
  /** poll(2) revents of the four, before anything happened, once all were made ready, after reading. */
  reventsIdle: number[];
  reventsReady: number[];
  reventsDrained: number[];
  /** The outer epoll's wait: how many events, and whose token. */
  outerEvents: number;
  outerToken: number;
  /** The inner epoll's wait: the tokens it returned (0 timerfd, 1 pipe, 2 socket). */
  innerTokens: number[];
  /** What read(2) gave on each: a byte count, or the error code. */
  reads: Record<string, number | string>;
}

export async function run(io: LessonIO): Promise<Result> {
  const { say } = io;
  const opened: number[] = [];
  try {
    // ── 1. Four kinds of kernel object ───────────────────────────────────────────────────
    const inner = sys.epoll_create1(); // an epoll instance: a red-black tree of watched fds + a ready list
    const timer = sys.timerfd_create(sys.CLOCK_MONOTONIC, sys.TFD_NONBLOCK); // a timer that is a file
    const [pipeR, pipeW] = sys.pipe2(sys.O_NONBLOCK); // a kernel buffer with two ends
    opened.push(inner, timer, pipeR, pipeW);
    // A TCP connection over loopback: listen, connect (non-blocking: EINPROGRESS), accept.
    const listener = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    opened.push(listener);
    sys.bind(listener, '127.0.0.1', 0);
    sys.listen(listener, 1);
    const client = sys.socket(sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    opened.push(client);
    sys.connect(client, '127.0.0.1', sys.getsockname(listener).port);
    sys.poll(new Int32Array([listener, sys.POLLIN, 0]), 1000); // wait for the handshake to finish
    const socket = sys.accept4(listener, sys.SOCK_NONBLOCK);
    opened.push(socket);

    const four = [
      { name: 'epoll', fd: inner },
      { name: 'timerfd', fd: timer },
      { name: 'pipe', fd: pipeR },
      { name: 'socket', fd: socket },
    ];

    // ── 2. What the kernel says they are, and the same fcntl on each ─────────────────────
    // /proc/self/fd/N is a symbolic link to "what fd N is": the fd table, made visible.
    const fds = four.map(({ name, fd }) => ({
      name,
      fd,
      target: readlinkSync(`/proc/self/fd/${fd}`),
      nonblocking: (sys.fcntl(fd, sys.F_GETFL) & sys.O_NONBLOCK) !== 0, // a flag on the open file
      cloexec: (sys.fcntl(fd, sys.F_GETFD) & sys.FD_CLOEXEC) !== 0, // a flag on the fd itself
    }));
    say('Four kernel objects, four small integers in the same fd table:');
    say();
    table(say, [
      ['object', 'fd', '/proc/self/fd/N →', 'O_NONBLOCK', 'FD_CLOEXEC'],
      ...fds.map((f) => [f.name, f.fd, f.target, String(f.nonblocking), String(f.cloexec)]),
    ]);
    say();

    // ── 3. One epoll watches three of them; another epoll watches the first ──────────────
    // The token (the last argument) is what epoll_wait will hand back: 0, 1, 2 here.
    sys.epoll_ctl(inner, sys.EPOLL_CTL_ADD, timer, sys.EPOLLIN, 0);
    sys.epoll_ctl(inner, sys.EPOLL_CTL_ADD, pipeR, sys.EPOLLIN, 1);
    sys.epoll_ctl(inner, sys.EPOLL_CTL_ADD, socket, sys.EPOLLIN, 2);
    const outer = sys.epoll_create1();
    opened.push(outer);
    sys.epoll_ctl(outer, sys.EPOLL_CTL_ADD, inner, sys.EPOLLIN, 99); // an epoll fd in an epoll set
    say(`epoll fd ${inner} watches the timerfd, the pipe and the socket (tokens 0, 1, 2);`);
    say(`epoll fd ${outer} watches epoll fd ${inner} (token 99).`);
    say();

    // poll(2) takes any fd too: one (fd, events, revents) triple each, revents filled in.
    const pollSet = new Int32Array(four.flatMap(({ fd }) => [fd, sys.POLLIN, 0]));
    const revents = () => [0, 1, 2, 3].map((i) => pollSet[3 * i + 2]!);
    sys.poll(pollSet, 0);
    const reventsIdle = revents();

    // ── 4. Make each ready, in its own way ───────────────────────────────────────────────
    sys.timerfd_settime(timer, 0, { value: 1_000_000, interval: 0 }); // expire in 1 ms
    sys.write(pipeW, Buffer.from('hello'));
    sys.send(client, Buffer.from('hello'));
    // Wait (sleeping in poll) until all four report POLLIN: the timer takes a millisecond.
    const deadline = Date.now() + 2000;
    do sys.poll(pollSet, 10);
    while (revents().some((r) => (r & sys.POLLIN) === 0) && Date.now() < deadline);
    const reventsReady = revents();
    say('poll(2) on all four, before and after each was made ready (timer armed, pipe written, socket sent to):');
    say();
    table(say, [
      ['object', 'fd', 'revents before', 'revents after'],
      ...four.map((f, i) => [f.name, f.fd, maskText(reventsIdle[i]!), maskText(reventsReady[i]!)]),
    ]);
    say();
    say(`The epoll fd polls as readable too: its ready list is not empty.`);

    // The outer epoll sees one ready fd: the inner epoll. The inner one sees the three.
    const events = new Uint32Array(2 * 8);
    const outerEvents = sys.epoll_wait(outer, events, 0);
    const outerToken = events[1]!;
    say(`epoll_wait(outer) → ${outerEvents} event: token ${outerToken} (epoll fd ${inner}) ${maskText(events[0]!)}`);
    const n = sys.epoll_wait(inner, events, 0);
    const innerTokens: number[] = [];
    for (let i = 0; i < n; i++) innerTokens.push(events[2 * i + 1]!);
    say(`epoll_wait(inner) → ${n} events: tokens ${innerTokens.join(', ')} (${innerTokens.map((t) => four[t + 1]!.name).join(', ')})`);
    say();

    // ── 5. The same read(2) on each ──────────────────────────────────────────────────────
    const buf = Buffer.alloc(64);
    const reads: Record<string, number | string> = {};
    say('read(fd, buf, 64) on each:');
    for (const { name, fd } of four) {
      try {
        const got = sys.read(fd, buf);
        reads[name] = got;
        const what =
          name === 'timerfd' ? `the expiration count, a u64: ${buf.readBigUInt64LE(0)}` : `"${buf.toString('latin1', 0, got)}"`;
        say(`  ${name.padEnd(8)} → ${got} bytes: ${what}`);
      } catch (e) {
        // An epoll instance's file_operations has poll, release… but no read: the kernel says so.
        reads[name] = (e as sys.SystemError).code;
        say(`  ${name.padEnd(8)} → throws ${(e as Error).message} (an epoll instance has no read operation)`);
      }
    }
    say();

    // ── 6. Drained: nothing is ready any more, and so the inner epoll is not either ─────
    sys.poll(pollSet, 0);
    const reventsDrained = revents();
    say(`poll(2) again after reading: ${four.map((f, i) => `${f.name} ${maskText(reventsDrained[i]!)}`).join(', ')}`);
    say(`epoll_wait(outer, timeout 0) → ${sys.epoll_wait(outer, events, 0)} events`);
    return { fds, reventsIdle, reventsReady, reventsDrained, outerEvents, outerToken, innerTokens, reads };
  } finally {
    for (const fd of opened) sys.close(fd);
  }
}

function maskText(mask: number): string {
  const names: string[] = [];
  if (mask & sys.POLLIN) names.push('IN');
  if (mask & sys.POLLOUT) names.push('OUT');
  if (mask & sys.POLLERR) names.push('ERR');
  if (mask & sys.POLLHUP) names.push('HUP');
  return names.join('|') || '0';
}

main(module, run, {
  about:
    'Lesson 1 — everything is an fd: an epoll instance, a timerfd, a pipe and a socket answer the\nsame calls (poll, read, epoll_ctl), and one epoll instance watches another.',
});
