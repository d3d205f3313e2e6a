/**
 * The waiting part of an iteration, shared by the drivers and by runOnce(): a sleep whose alarm
 * rings ahead of the timer, a poll through the last stretch before it, and the waiting on that
 * follows a wake-up which ran nothing of the user's (wait-policy.ts says why it comes early).
 */
import { monotonicMs } from './clock';
import type { DriverHost } from './core';

/** An iteration that sleeps up to `timeout` ms (−1: until an event); the alarm rings on time. */
export function sleepTurn(host: DriverHost, timeout: number, now: number): boolean {
  host.armForSleep(timeout);
  return host.turn(timeout, now);
}

/** An iteration that polls until `until` (ms, a timer due within spinUs) or the first event. */
export function spinTurn(host: DriverHost, until: number): boolean {
  const n = host.io.spin(until);
  return host.turn(0, monotonicMs(), n);
}

/**
 * After an iteration that ran nothing of the user's (woken by the alarm ahead of a timer): go on
 * waiting — sleep again, or poll — until an iteration runs something, the loop stops or dies, or
 * the timer is due with nothing left to wait (then returns true: still quiet, the caller runs it).
 */
export function waitOn(host: DriverHost): boolean {
  let quiet = true;
  while (quiet && !host.state.stopRequested && host.alive()) {
    const t = monotonicMs();
    const next = host.timeoutAt(t);
    if (next > 0) quiet = sleepTurn(host, next, t);
    else {
      const until = host.spinDeadline(t);
      if (until < 0) break;
      quiet = spinTurn(host, until);
    }
  }
  return quiet;
}
