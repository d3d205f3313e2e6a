/**
 * What every kind of handle shares — libuv's `uv_handle_t`: whether it is active (a watcher
 * registered, a timer scheduled, an immediate pending) and whether it is referenced (`ref()` /
 * `unref()`, as Node's handles). A loop is alive while it holds an active, referenced handle.
 * The bookkeeping is written here once; each kind only says when it starts and stops
 * (libuv: `uv__handle_start`, `uv__handle_stop`, `uv__handle_ref`).
 */

/** Counts the active, referenced handles of a loop. */
export interface RefCounter {
  addRefs(delta: number): void;
}

export abstract class Handle {
  /** @internal Whether `ref()` (the default) or `unref()` was called last. */
  refed = true;
  /** @internal Whether the handle is started: only then does `refed` count. */
  active = false;

  /** @internal */
  constructor(/** @internal */ readonly refs: RefCounter) {}

  /** Keep the loop alive while this handle is active (the default). */
  ref(): this {
    if (!this.refed) {
      this.refed = true;
      if (this.active) this.refs.addRefs(1);
    }
    return this;
  }

  /** Do not keep the loop alive for this handle alone. */
  unref(): this {
    if (this.refed) {
      this.refed = false;
      if (this.active) this.refs.addRefs(-1);
    }
    return this;
  }

  /** Whether the handle keeps the loop alive while it is active. */
  hasRef(): boolean {
    return this.refed;
  }

  /** @internal The handle starts: it counts from now on, if referenced. */
  activate(): void {
    if (this.active) return;
    this.active = true;
    if (this.refed) this.refs.addRefs(1);
  }

  /** @internal The handle stops. */
  deactivate(): void {
    if (!this.active) return;
    this.active = false;
    if (this.refed) this.refs.addRefs(-1);
  }
}
