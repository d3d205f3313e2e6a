/**
 * Child processes on the reactor: Node's `child_process.spawn`, with the child's exit seen
 * through a pidfd in the loop's epoll set and its stdio as our `net.Socket`s over socketpairs.
 * See docs/processes.md.
 * @module
 */
export { ChildProcess, type ChildProcessEvents, type SpawnError, spawn } from './child';
export type { SpawnOptions, StdioOption } from './options';
