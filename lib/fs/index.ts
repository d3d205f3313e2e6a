/**
 * Files on the reactor: `watch()`, Node's `fs.watch` over inotify(7) with bursts coalesced.
 * (Reading and writing regular files is not here: epoll cannot wait on them — see docs/files.md.)
 * @module
 */
export { FSWatcher, type WatchEventType, type WatchListener, type WatchOptions, watch } from './watch';
