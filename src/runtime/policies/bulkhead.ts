/**
 * The app's bulkhead: at most `maxInFlight` requests run at once, at most `maxQueue` wait, and
 * none waits longer than `maxQueueWaitMs`. Everything beyond is shed at once with
 * OverloadedError (503 + Retry-After), so overload costs a refusal instead of memory and
 * latency, and the requests that are admitted keep their latency.
 *
 * Ours rather than cockatiel's BulkheadPolicy, which this needs three things it lacks: a wait
 * limit for queued calls, removal of a queued call when its caller gives up (cockatiel keeps it,
 * holding a queue slot, until it reaches the front), and strict FIFO (cockatiel hands a freed
 * slot over a microtask later, so a newcomer can take it and the dequeued call is re-queued at
 * the back or refused). It is also on every request's path: under the cap `run` allocates
 * nothing beyond the promise it returns.
 */
import { OverloadedError } from "../errors.ts";

export interface BulkheadOptions {
  /** Calls running at once (at least 1). */
  readonly maxInFlight: number;
  /** Calls waiting for a slot (0: no waiting, shed at once). */
  readonly maxQueue: number;
  /** A call that waited this long without a slot is shed with reason "queue_timeout". */
  readonly maxQueueWaitMs: number;
  /** For errors and metrics (the app's name). */
  readonly name?: string;
}

interface Waiter {
  /** Runs the call in the slot handed to it and settles the caller's promise. */
  readonly dispatch: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  readonly enqueuedAt: number;
  prev: Waiter | undefined;
  next: Waiter | undefined;
}

/** Retry-After is an estimate: never below 1 s, and never so long that clients stay away. */
const MAX_RETRY_AFTER_SECONDS = 30;
/** Throughput is re-measured over at least this long before it feeds a Retry-After. */
const THROUGHPUT_SAMPLE_MS = 1000;

export class Bulkhead {
  readonly name: string;
  readonly maxInFlight: number;
  readonly maxQueue: number;
  readonly maxQueueWaitMs: number;

  #inFlight = 0;
  #queued = 0;
  #shed = 0;
  #completed = 0;
  // The wait queue: a doubly linked list, so a caller that gives up leaves in O(1).
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  // One timer for the whole queue: every waiter has the same wait limit and the queue is FIFO,
  // so the head always expires first.
  #timer: ReturnType<typeof setTimeout> | undefined;
  // Completions per second, measured lazily when shedding, for Retry-After.
  #sampleAt = performance.now();
  #sampleCompleted = 0;
  #throughput = 0;

  constructor(options: BulkheadOptions) {
    const { maxInFlight, maxQueue, maxQueueWaitMs } = options;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be an integer of at least 1, got ${maxInFlight}`);
    }
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new RangeError(`maxQueue must be an integer of at least 0, got ${maxQueue}`);
    }
    if (!Number.isFinite(maxQueueWaitMs) || maxQueueWaitMs < 0) {
      throw new RangeError(`maxQueueWaitMs must be a finite number >= 0, got ${maxQueueWaitMs}`);
    }
    this.maxInFlight = maxInFlight;
    this.maxQueue = maxQueue;
    this.maxQueueWaitMs = maxQueueWaitMs;
    this.name = options.name ?? "bulkhead";
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#queued;
  }

  /** Calls refused so far (queue full or waited too long); for metrics. */
  get shed(): number {
    return this.#shed;
  }

  /**
   * Throws the OverloadedError `run` would, when every slot and queue place is taken: lets a
   * server shed a request before reading its body, the cheapest moment to say no.
   */
  refuseIfFull(): void {
    if (this.#inFlight < this.maxInFlight || this.#queued < this.maxQueue) return;
    this.#shed++;
    throw new OverloadedError("queue_full", this.#retryAfterSeconds());
  }

  /**
   * Runs `fn` when a slot is free: at once under the cap, else after the calls queued before
   * it. Rejects with OverloadedError ("queue_full" at once, "queue_timeout" after waiting
   * `maxQueueWaitMs`), or with `signal`'s reason when the caller gives up while waiting (a
   * running call is not interrupted: `fn` should watch the signal itself).
   */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inFlight < this.maxInFlight && this.#head === undefined) {
      this.#inFlight++;
      return this.#start(fn);
    }
    if (this.#queued >= this.maxQueue) {
      this.#shed++;
      return Promise.reject(new OverloadedError("queue_full", this.#retryAfterSeconds()));
    }
    return new Promise<T>((resolve, reject) => this.#enqueue(fn, resolve, reject, signal));
  }

  /**
   * Takes a slot for synchronous work when one is free and nobody waits (true), so a caller
   * whose work cannot yield runs without a promise; it must call `leaveNow` when done. False:
   * use `run`, which queues fairly behind the waiters.
   */
  enterNow(): boolean {
    if (this.#inFlight < this.maxInFlight && this.#head === undefined) {
      this.#inFlight++;
      return true;
    }
    return false;
  }

  /** Gives back a slot taken with `enterNow`. */
  leaveNow(): void {
    this.#release();
  }

  /** Runs `fn` in a slot already counted in #inFlight; the slot is released when it settles. */
  #start<T>(fn: () => Promise<T>): Promise<T> {
    let work: Promise<T>;
    try {
      work = fn();
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    return work.then(this.#onValue, this.#onError);
  }

  // Bound once, so settling a call allocates no closures.
  #onValue = <V>(value: V): V => {
    this.#release();
    return value;
  };
  #onError = (error: unknown): never => {
    this.#release();
    throw error;
  };

  /** A call finished: its slot goes straight to the oldest waiter, or back to the pool. */
  #release(): void {
    this.#completed++;
    const next = this.#head;
    if (next === undefined) {
      this.#inFlight--;
      return;
    }
    this.#unlink(next);
    // The slot passes to `next` without being freed, so no newcomer can take it first.
    next.dispatch();
  }

  #enqueue<T>(
    fn: () => Promise<T>,
    resolve: (value: T) => void,
    reject: (reason: unknown) => void,
    signal: AbortSignal | undefined,
  ): void {
    const waiter: Waiter = {
      dispatch: () => {
        this.#start(fn).then(resolve, reject);
      },
      reject,
      signal,
      onAbort: undefined,
      enqueuedAt: performance.now(),
      prev: this.#tail,
      next: undefined,
    };
    if (signal) {
      waiter.onAbort = () => {
        this.#unlink(waiter);
        reject(signal.reason);
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
    }
    if (this.#tail) this.#tail.next = waiter;
    else this.#head = waiter;
    this.#tail = waiter;
    this.#queued++;
    if (this.#timer === undefined) this.#schedule(waiter);
  }

  #unlink(waiter: Waiter): void {
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.#head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.#tail = waiter.prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    this.#queued--;
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    if (this.#head === undefined && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #schedule(head: Waiter): void {
    const wait = Math.max(0, head.enqueuedAt + this.maxQueueWaitMs - performance.now());
    this.#timer = setTimeout(this.#expire, wait);
  }

  /** The head's wait limit passed: shed every waiter whose limit has passed, re-arm for the rest. */
  #expire = (): void => {
    this.#timer = undefined;
    // Timers may fire up to a millisecond before performance.now() agrees; do not spin on that.
    const now = performance.now() + 1;
    let waiter = this.#head;
    while (waiter !== undefined && waiter.enqueuedAt + this.maxQueueWaitMs <= now) {
      const expired = waiter;
      waiter = waiter.next;
      this.#unlink(expired);
      this.#shed++;
      expired.reject(new OverloadedError("queue_timeout", this.#retryAfterSeconds()));
    }
    if (waiter !== undefined && this.#timer === undefined) this.#schedule(waiter);
  };

  /**
   * Seconds until a retry is likely to find room: the backlog ahead of a new call divided by
   * the recent completion rate, clamped to [1, 30]. Computed only when shedding.
   */
  #retryAfterSeconds(): number {
    const now = performance.now();
    const elapsed = now - this.#sampleAt;
    if (elapsed >= THROUGHPUT_SAMPLE_MS) {
      const rate = ((this.#completed - this.#sampleCompleted) * 1000) / elapsed;
      this.#throughput = this.#throughput === 0 ? rate : (this.#throughput + rate) / 2;
      this.#sampleAt = now;
      this.#sampleCompleted = this.#completed;
    }
    const fallback = Math.ceil(this.maxQueueWaitMs / 1000);
    const estimate =
      this.#throughput > 0 ? Math.ceil((this.#queued + 1) / this.#throughput) : fallback;
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, estimate));
  }
}
