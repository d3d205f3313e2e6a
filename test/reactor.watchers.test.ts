// Fd watchers: dispatch by token, closing from callbacks, fd reuse, modes, bad input.
import { describe, expect, it } from 'vitest';
import { expectArgError, expectSystemError, freshLoopEachTest, pkg } from './helpers';

const { Loop, sys } = pkg;
type Loop = InstanceType<typeof Loop>;

let loop: Loop;
freshLoopEachTest((l) => {
  loop = l;
});

const readable = (): [number, number] => {
  const [r, w] = sys.pipe2(sys.O_NONBLOCK);
  sys.write(w, Buffer.from('x'));
  return [r, w];
};

describe('watch', () => {
  it('delivers the ready mask to the callback, with the watcher', () => {
    const [r, w] = readable();
    const seen: number[] = [];
    const watcher = loop.watch(r, sys.EPOLLIN | sys.EPOLLRDHUP, (events, self) => {
      seen.push(events);
      expect(self).toBe(watcher);
    });
    loop.runNoWait();
    expect(seen).toEqual([sys.EPOLLIN]);
    sys.close(w); // writer gone: EPOLLIN | EPOLLHUP
    loop.runNoWait();
    expect(seen[1]! & sys.EPOLLHUP).toBeTruthy();
    watcher.close();
    sys.close(r);
  });

  it('edge-triggered and one-shot watchers, re-armed with modify()', () => {
    const [r, w] = readable();
    let calls = 0;
    const watcher = loop.watch(r, sys.EPOLLIN | sys.EPOLLONESHOT, () => calls++);
    loop.runNoWait();
    loop.runNoWait();
    expect(calls).toBe(1);
    watcher.modify(sys.EPOLLIN | sys.EPOLLET);
    expect(watcher.interest).toBe(sys.EPOLLIN | sys.EPOLLET);
    loop.runNoWait();
    loop.runNoWait();
    expect(calls).toBe(2); // the edge from MOD, once
    sys.write(w, Buffer.from('y'));
    loop.runNoWait();
    expect(calls).toBe(3);
    watcher.close();
    sys.close(r);
    sys.close(w);
  });

  it('throws EEXIST when an fd is watched twice, and accepts it again once closed', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const first = loop.watch(r, sys.EPOLLIN, () => {});
    expectSystemError(() => loop.watch(r, sys.EPOLLIN, () => {}), 'EEXIST', 'epoll_ctl');
    first.close();
    const second = loop.watch(r, sys.EPOLLIN, () => {});
    expect(second.token).not.toBe(first.token);
    second.close();
    sys.close(r);
    sys.close(w);
  });

  it('can close its own watcher, and another one pending in the same batch, from a callback', () => {
    const [r1, w1] = readable();
    const [r2, w2] = readable();
    const calls: string[] = [];
    let a: ReturnType<Loop['watch']>;
    let b: ReturnType<Loop['watch']>;
    // whichever runs first closes itself and the other: exactly one callback runs
    a = loop.watch(r1, sys.EPOLLIN, () => {
      calls.push('a');
      a.close();
      b.close();
    });
    b = loop.watch(r2, sys.EPOLLIN, () => {
      calls.push('b');
      b.close();
      a.close();
    });
    loop.runNoWait();
    expect(calls).toHaveLength(1);
    expect(loop.stats().events.stale).toBe(1);
    expect(a.closed && b.closed).toBe(true);
    loop.runNoWait();
    expect(calls).toHaveLength(1);
    [r1, w1, r2, w2].forEach(sys.close);
  });

  it('never hands a stale event from the same batch to the new owner of a reused fd number', () => {
    const [r1, w1] = readable();
    const [r2, w2] = readable();
    const calls: string[] = [];
    const replacements: number[] = [];
    let newOwner: ReturnType<Loop['watch']> | undefined;
    // Each callback closes the other registration AND its fd, then opens a fresh (empty) pipe,
    // which gets the freed number, and watches it. The other's event is still in the batch.
    const hijack = (victim: () => ReturnType<Loop['watch']>, victimFd: number, name: string) => () => {
      calls.push(name);
      if (newOwner) return;
      victim().close();
      sys.close(victimFd);
      const [nr, nw] = sys.pipe2(sys.O_NONBLOCK);
      replacements.push(nr, nw);
      expect(nr).toBe(victimFd); // the kernel reuses the lowest free number
      newOwner = loop.watch(nr, sys.EPOLLIN, () => calls.push('new owner'));
    };
    let a: ReturnType<Loop['watch']>;
    let b: ReturnType<Loop['watch']>;
    a = loop.watch(r1, sys.EPOLLIN, hijack(() => b, r2, 'a'));
    b = loop.watch(r2, sys.EPOLLIN, hijack(() => a, r1, 'b'));
    loop.runNoWait();
    expect(calls).toHaveLength(1); // the new pipe is empty: its owner must not be called
    expect(loop.stats().events.stale).toBe(1);
    loop.runNoWait();
    expect(calls).toHaveLength(2); // the surviving one, level-triggered again
    expect(calls).not.toContain('new owner');
    for (const wt of [a, b, newOwner!]) wt.close();
    [w1, w2, ...replacements].forEach(sys.close);
    sys.close(calls[0] === 'a' ? r1 : r2);
  });

  it('closing a watcher after its fd was closed, even after the number was reused, is harmless', () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const old = loop.watch(r, sys.EPOLLIN, () => {});
    sys.close(r);
    old.close(); // EBADF inside, swallowed
    const [r2, w2] = sys.pipe2(sys.O_NONBLOCK);
    const stale = loop.watch(r2, sys.EPOLLIN, () => {});
    sys.close(r2);
    const [r3, w3] = readable(); // r3 reuses r2's number
    expect(r3).toBe(r2);
    let calls = 0;
    const fresh = loop.watch(r3, sys.EPOLLIN, () => calls++); // ADD works: the kernel dropped r2
    stale.close(); // must not EPOLL_CTL_DEL the fresh registration
    loop.runNoWait();
    expect(calls).toBe(1);
    expect(() => stale.modify(sys.EPOLLIN)).toThrow(/closed/);
    fresh.close();
    [w, w2, r3, w3].forEach(sys.close);
  });

  it('unref() keeps a watcher from holding the loop alive', async () => {
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    const watcher = loop.watch(r, sys.EPOLLIN, () => {});
    expect(loop.alive).toBe(true);
    watcher.unref();
    expect(watcher.hasRef()).toBe(false);
    expect(loop.alive).toBe(false);
    await loop.run(); // returns at once
    watcher.ref();
    expect(loop.alive).toBe(true);
    watcher.close();
    expect(loop.alive).toBe(false);
    sys.close(r);
    sys.close(w);
  });

  it('rejects bad fds, masks and callbacks before touching the epoll set', () => {
    expectArgError(() => loop.watch(-1, sys.EPOLLIN, () => {}), RangeError, 'fd');
    expectArgError(() => loop.watch(1.5, sys.EPOLLIN, () => {}), RangeError, 'fd');
    expectArgError(() => loop.watch('3' as unknown as number, sys.EPOLLIN, () => {}), TypeError, 'fd');
    expectArgError(() => loop.watch(0, 1.5, () => {}), RangeError, 'interest');
    expectArgError(() => loop.watch(0, 2 ** 33, () => {}), RangeError, 'interest');
    expectArgError(() => loop.watch(0, sys.EPOLLIN, 'cb' as never), TypeError, 'callback');
    const [r, w] = sys.pipe2(sys.O_NONBLOCK);
    sys.close(r);
    expectSystemError(() => loop.watch(r, sys.EPOLLIN, () => {}), 'EBADF', 'epoll_ctl');
    expectSystemError(() => loop.watch(loop.epfd, sys.EPOLLIN, () => {}), 'EINVAL', 'epoll_ctl');
    expect(loop.stats().alive.watchers).toBe(0);
    sys.close(w);
  });
});
