/**
 * epoll-reactor: a real event loop for Linux, in TypeScript, on the kernel's own primitives.
 *
 * - `sys`: the syscalls, 1:1 (lib/sys)
 * @module
 */
import * as sys from './sys/index';

export { sys };
