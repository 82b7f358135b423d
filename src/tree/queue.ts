/**
 * A named work queue: at most `limit` tasks run at once, and the producer
 * (the walker) waits for room while `highWater` tasks are queued, so memory
 * stays bounded on huge trees.
 *
 * A task holds a slot while it runs and may hand it back while it waits for
 * something that is not work (a server that is down: retrier.ts): the other
 * targets' work goes on meanwhile instead of queuing behind it.
 */
export interface Slot {
  /** Hand the slot back; a task that does not acquire it again is done with work and only waits (no slot is given back at its end). */
  release(): void;
  acquire(): Promise<void>;
}

/** An already settled promise: room() when there is room. */
const ROOM: Promise<void> = Promise.resolve();

export class WorkQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Set<Promise<void>>();
  /**
   * Producers blocked at high water; each finished task wakes one.
   * (Promise.race(pending) instead would attach a reaction to every queued
   * promise on every wait: O(n²) reactions kept alive on big trees.)
   */
  private readonly roomWaiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    private limit: number,
    private readonly highWater: number,
  ) {}

  /** Tasks allowed to run at once from now on; fewer: running tasks finish, no new one starts until below. */
  setLimit(n: number): void {
    this.limit = Math.max(1, n);
    while (this.running < this.limit && this.waiting.length > 0) this.waiting.shift()!();
  }

  get size(): number {
    return this.pending.size;
  }

  /** Resolves once fewer than highWater tasks are queued. */
  room(): Promise<void> {
    // Not an async function: asked before every queued file, and nearly always there is room.
    return this.pending.size < this.highWater ? ROOM : this.waitForRoom();
  }

  private async waitForRoom(): Promise<void> {
    while (this.pending.size >= this.highWater) await new Promise<void>((r) => this.roomWaiters.push(r));
  }

  /** Whether room() would resolve at once: the producer then queues without awaiting it. */
  get hasRoom(): boolean {
    return this.pending.size < this.highWater;
  }

  /** Queue a task. It must handle its own errors: a rejection fails drain(), and with it the run. */
  push(task: (slot: Slot) => Promise<void>): void {
    const slot = new QueueSlot(this);
    const p = this.run(task, slot);
    slot.promise = p;
    this.pending.add(p);
    // Ended within run() itself (a task that threw before its first await): settled once it is in `pending`, as any other.
    if (slot.ended) queueMicrotask(() => this.settled(p));
  }

  /** One task, from its slot to its end. One async function per task: this runs once per file. */
  private async run(task: (slot: Slot) => Promise<void>, slot: QueueSlot): Promise<void> {
    try {
      // A free slot is taken without an await (nearly always, up to --parallel).
      if (!slot.take()) await slot.acquire();
      try {
        await task(slot);
      } finally {
        slot.release();
      }
    } finally {
      slot.ended = true;
      if (slot.promise) this.settled(slot.promise);
    }
  }

  private settled(p: Promise<void>): void {
    this.pending.delete(p);
    this.roomWaiters.shift()?.();
  }

  /** Resolves when the queue is empty, including tasks queued while it waited. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  /** A free slot taken now (QueueSlot); false when all are busy. */
  takeSlot(): boolean {
    if (this.running >= this.limit) return false;
    this.running++;
    return true;
  }

  /** Resolves once a slot was taken for the caller (QueueSlot). */
  waitSlot(): Promise<void> {
    if (this.takeSlot()) return ROOM;
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.running++;
        resolve();
      }),
    );
  }

  /** A slot handed back (QueueSlot). */
  giveSlot(): void {
    this.running--;
    if (this.running < this.limit) this.waiting.shift()?.();
  }
}

/** A task's slot (WorkQueue.push): held at most once at a time. */
class QueueSlot implements Slot {
  private held = false;
  /** The task's promise in WorkQueue.pending, once push() has it. */
  promise: Promise<void> | undefined;
  ended = false;

  constructor(private readonly queue: WorkQueue) {}

  take(): boolean {
    this.held = this.queue.takeSlot();
    return this.held;
  }

  async acquire(): Promise<void> {
    await this.queue.waitSlot();
    this.held = true;
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.queue.giveSlot();
  }
}
