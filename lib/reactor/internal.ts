/**
 * How the layers above the reactor (net, dgram, …) reach a loop's internal state: one
 * accessor, instead of underscore members on the public class.
 */
import type { LoopState } from './core';

const states = new WeakMap<object, LoopState>();

/** Called once by each Loop's constructor. */
export function registerInternals(loop: object, state: LoopState): void {
  states.set(loop, state);
}

/** The internal state of `loop` (a Loop). Look it up once per handle: it is a WeakMap lookup. */
export function internals(loop: object): LoopState {
  const state = states.get(loop);
  if (state === undefined) throw new TypeError('not an epoll-reactor Loop');
  return state;
}
