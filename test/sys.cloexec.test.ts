// Every fd the addon creates is close-on-exec: a spawned child inherits none of them.
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { expect, it } from 'vitest';
import { fdSnapshot, sys, tcpPair } from './helpers';

it('a child process sees only its stdio, whatever we had open', () => {
  const snap = fdSnapshot();
  const ours = [
    sys.epoll_create1(),
    sys.timerfd_create(sys.CLOCK_MONOTONIC, 0),
    sys.eventfd(0, 0),
    ...sys.pipe2(0),
    sys.socket(sys.AF_INET, sys.SOCK_STREAM),
    ...tcpPair(),
  ];
  const targets = new Set(ours.map((fd) => readlinkSync(`/proc/self/fd/${fd}`)));
  // the child prints what each of its fds points at; none may be one of ours
  const out = spawnSync('bash', ['-c', 'for f in /proc/$$/fd/*; do readlink "$f" 2>/dev/null; done; exit 0'], { encoding: 'utf8' });
  const inherited = out.stdout.split('\n').filter((t) => targets.has(t));
  expect(out.status).toBe(0);
  expect(inherited).toEqual([]);
  ours.forEach((fd) => sys.close(fd));
  snap.check();
});
