/** A FIFO queue that runs one job at a time (one generation or model load per engine), with cancellation. */

/** The error a cancelled job's promise rejects with, whether it was still queued or already running. */
export class JobCancelledError extends Error {
  override readonly name = 'JobCancelledError';
}

export interface Job<T> {
  /** The connection that submitted the job, so its jobs can be cancelled when it disconnects. */
  ownerId: number;
  /** Runs the job. `signal` aborts when the job is cancelled while running. */
  run(signal: AbortSignal): Promise<T>;
  /** Called with the number of jobs ahead (0 once it runs) and the queue length, each time they change. */
  onPosition?(position: number, queueLength: number): void;
}

interface Entry {
  id: number;
  job: Job<unknown>;
  controller: AbortController;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  lastPosition: number;
}

export interface Ticket<T> {
  id: number;
  result: Promise<T>;
}

export class Scheduler {
  private readonly queue: Entry[] = [];
  private running: Entry | undefined;
  private nextId = 1;
  private readonly idleListeners: (() => void)[] = [];

  /** Jobs waiting or running. */
  get length(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /** Queues a job and returns its id and the promise of its result. */
  submit<T>(job: Job<T>): Ticket<T> {
    const id = this.nextId++;
    const result = new Promise<T>((resolve, reject) => {
      this.queue.push({ id, job, controller: new AbortController(), resolve: resolve as (value: unknown) => void, reject, lastPosition: -1 });
    });
    this.reportPositions();
    this.pump();
    return { id, result };
  }

  /** Cancels a job: a queued one leaves the queue, a running one is aborted. Returns false for an unknown id. */
  cancel(id: number, reason = 'the request was cancelled'): boolean {
    if (this.running?.id === id) {
      this.running.controller.abort(new JobCancelledError(reason));
      return true;
    }
    const index = this.queue.findIndex((entry) => entry.id === id);
    if (index < 0) return false;
    const [entry] = this.queue.splice(index, 1);
    entry!.reject(new JobCancelledError(reason));
    this.reportPositions();
    this.notifyIfIdle();
    return true;
  }

  /** Cancels every job of one owner, queued or running. Returns how many were cancelled. */
  cancelOwner(ownerId: number, reason: string): number {
    const ids = [...(this.running ? [this.running] : []), ...this.queue].filter((entry) => entry.job.ownerId === ownerId).map((entry) => entry.id);
    for (const id of ids) this.cancel(id, reason);
    return ids.length;
  }

  /** Cancels every job. */
  cancelAll(reason: string): void {
    for (const entry of [...(this.running ? [this.running] : []), ...this.queue]) this.cancel(entry.id, reason);
  }

  /** Calls `listener` each time the last job ends and none is waiting. */
  onIdle(listener: () => void): void {
    this.idleListeners.push(listener);
  }

  private pump(): void {
    if (this.running) return;
    const entry = this.queue.shift();
    if (!entry) return;
    this.running = entry;
    this.reportPositions();
    void this.execute(entry);
  }

  private async execute(entry: Entry): Promise<void> {
    try {
      entry.resolve(await entry.job.run(entry.controller.signal));
    } catch (error) {
      entry.reject(error);
    } finally {
      this.running = undefined;
      this.pump();
      this.notifyIfIdle();
    }
  }

  private reportPositions(): void {
    const length = this.length;
    const entries = [...(this.running ? [this.running] : []), ...this.queue];
    entries.forEach((entry, position) => {
      if (entry.lastPosition === position) return;
      entry.lastPosition = position;
      entry.job.onPosition?.(position, length);
    });
  }

  private notifyIfIdle(): void {
    if (this.length > 0) return;
    for (const listener of this.idleListeners) listener();
  }
}
