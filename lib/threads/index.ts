/**
 * `threads`: waking a loop from another thread, and a message queue between threads.
 *
 * Each worker thread has its own default loop (and may make more with `new Loop()`): each is
 * its own epoll fd, run by that thread's Node loop. A {@link Waker} (an eventfd) wakes a loop
 * from any thread; a {@link MessageQueue} carries messages to it through a SharedArrayBuffer.
 * Their handles travel by `postMessage` or `workerData`.
 *
 * @example
 * ```ts
 * import { Worker } from 'node:worker_threads';
 * import { threads } from 'epoll-reactor';
 * const inbox = new threads.MessageQueue();
 * inbox.on('message', (m) => { console.log(m); inbox.close(); });
 * new Worker(`
 *   const { threads } = require('epoll-reactor');
 *   const out = threads.MessageQueue.connect(require('node:worker_threads').workerData);
 *   out.send({ from: 'worker' });
 *   out.close();
 * `, { eval: true, workerData: inbox.handle });
 * ```
 * @module
 */
export { type ThreadsErrorCode, threadsError } from './errors';
export { MessageQueue, type MessageQueueOptions, type QueueHandle, QueueSender } from './queue';
export { type WakeCallback, Waker, type WakerHandle } from './waker';
