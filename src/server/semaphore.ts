/** A counting semaphore with a bounded wait queue, for the inference routes. */
import { HttpError } from './errors.js';

export interface InferenceGateOptions {
  /** Tasks that run at the same time, at least 1. */
  maxConcurrent: number;
  /** Tasks that wait for a slot; one more raises ERR_BUSY. */
  maxQueued: number;
  /** Seconds sent in `Retry-After` with ERR_BUSY. */
  retryAfterSeconds: number;
}

export class InferenceGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: InferenceGateOptions) {}

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` when a slot is free, waiting in first-in, first-out order.
   * Raises ERR_BUSY at once when every slot is taken and the queue is full.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.maxConcurrent) {
      if (this.waiting.length >= this.options.maxQueued) {
        throw new HttpError(
          'ERR_BUSY',
          `The server is busy: ${this.running} inference requests run and ${this.waiting.length} wait; retry after ${this.options.retryAfterSeconds} s`,
          { retryAfterSeconds: this.options.retryAfterSeconds },
        );
      }
      // The releasing task hands its slot over directly, so `running` stays counted.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
