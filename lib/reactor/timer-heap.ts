/**
 * A binary min-heap of timers ordered by (deadline, seq).
 *
 * `seq` is a global start counter, so timers with equal deadlines come out in the order they were
 * started. Each node remembers its own index, which makes removal of an arbitrary timer
 * (clearTimeout) O(log n) with no tombstones left behind: memory is bounded by the timers alive.
 */
export interface HeapNode {
  deadline: number;
  seq: number;
  /** Position in the heap array, −1 when not in a heap. */
  heapIndex: number;
}

function before(a: HeapNode, b: HeapNode): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

export class TimerHeap<T extends HeapNode> {
  private readonly nodes: T[] = [];

  get size(): number {
    return this.nodes.length;
  }

  /** The earliest timer, or undefined. */
  peek(): T | undefined {
    return this.nodes[0];
  }

  push(node: T): void {
    node.heapIndex = this.nodes.length;
    this.nodes.push(node);
    this.siftUp(node.heapIndex);
  }

  /** Removes and returns the earliest timer. */
  pop(): T | undefined {
    const top = this.nodes[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  /** Removes `node` wherever it is; a node not in the heap is ignored. */
  remove(node: T): void {
    const i = node.heapIndex;
    if (i < 0 || this.nodes[i] !== node) return;
    this.removeAt(i);
  }

  private removeAt(i: number): void {
    const nodes = this.nodes;
    const removed = nodes[i]!;
    const last = nodes.pop()!;
    removed.heapIndex = -1;
    if (last === removed) return;
    nodes[i] = last;
    last.heapIndex = i;
    // The moved node may belong above or below its new place.
    if (i > 0 && before(last, nodes[(i - 1) >> 1]!)) this.siftUp(i);
    else this.siftDown(i);
  }

  private siftUp(i: number): void {
    const nodes = this.nodes;
    const node = nodes[i]!;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = nodes[parentIndex]!;
      if (!before(node, parent)) break;
      nodes[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    nodes[i] = node;
    node.heapIndex = i;
  }

  private siftDown(i: number): void {
    const nodes = this.nodes;
    const n = nodes.length;
    const node = nodes[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(nodes[child + 1]!, nodes[child]!)) child++;
      const c = nodes[child]!;
      if (!before(c, node)) break;
      nodes[i] = c;
      c.heapIndex = i;
      i = child;
    }
    nodes[i] = node;
    node.heapIndex = i;
  }
}
