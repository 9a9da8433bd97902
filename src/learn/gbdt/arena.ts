/**
 * One block of shared memory for everything the tree-growing kernels touch during a fit: the
 * binned matrix, gradients, row partitions, ordered gradients and histograms. It is a shared
 * WebAssembly.Memory, so the same bytes are (a) typed arrays for the TypeScript code, (b) the
 * linear memory of the WebAssembly kernels (wasm-histogram.ts), which address arrays by byte
 * offset, and (c) visible to worker threads without copies (parallel/). Shared memory never
 * moves when it grows, so views made earlier stay valid. Any thread holding the arena (see
 * `share()`) can allocate: the bump pointer is a shared atomic word.
 */

import type { WasmMemory } from "./wasm-api.ts";
import { wasmApi } from "./wasm-api.ts";

const PAGE = 65536;
/** Most pages a 32-bit WebAssembly memory can have (4 GiB). */
const MAX_PAGES = 65536;
/** Allocation unit and alignment: a cache line (the bump pointer counts these). */
const UNIT = 64;

/** What another thread needs to use the same arena (structured-cloneable). */
export interface ArenaHandle {
  /** The WebAssembly.Memory, or the growable SharedArrayBuffer without WebAssembly. */
  readonly memory: unknown;
  /** Int32 word 0: the bump pointer in UNITs. */
  readonly top: SharedArrayBuffer;
  readonly maxPages: number;
}

/** A bump allocator over a shared memory. Nothing is freed until the arena is dropped. */
export class SharedArena {
  readonly memory: WasmMemory;
  private readonly top: Int32Array;
  private readonly maxPages: number;
  /** Every buffer object memory.buffer has returned here (a new one after each grow). */
  private readonly buffers = new Set<ArrayBufferLike>();

  /**
   * A new arena of `initialBytes` committed now; the memory may grow up to 4 GiB (address
   * space is reserved, not committed). Or, given another thread's `share()`, that arena.
   * Throws a RangeError when even the initial size is impossible.
   */
  constructor(init: number | ArenaHandle) {
    if (typeof init !== "number") {
      this.memory = memoryOf(init.memory);
      this.top = new Int32Array(init.top);
      this.maxPages = init.maxPages;
      return;
    }
    const initial = Math.max(1, Math.ceil(init / PAGE));
    if (initial > MAX_PAGES) throw new RangeError("gbdt: training data too large for the arena");
    const { memory, maximum } = createMemory(initial);
    this.memory = memory;
    this.maxPages = maximum;
    this.top = new Int32Array(new SharedArrayBuffer(4));
  }

  /** A handle that gives another thread this arena (`new SharedArena(handle)`). */
  share(): ArenaHandle {
    const memory = this.memory;
    const raw = wasmApi && memory instanceof wasmApi.Memory ? memory : memory.buffer;
    return { memory: raw, top: this.top.buffer as SharedArrayBuffer, maxPages: this.maxPages };
  }

  /** Whether `view` is an array of this arena (so kernels may address it by byteOffset). */
  owns(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer);
  }

  /** Bytes handed out so far, by every thread. */
  get size(): number {
    return Atomics.load(this.top, 0) * UNIT;
  }

  /** Reserve `bytes` at a cache-line boundary; returns the byte offset. */
  allocate(bytes: number): number {
    const units = Math.max(1, Math.ceil(bytes / UNIT));
    const limit = this.maxPages * (PAGE / UNIT);
    const start = Atomics.add(this.top, 0, units);
    if (start + units > limit) {
      throw new RangeError("gbdt: out of arena memory (4 GiB of bins, rows and histograms)");
    }
    this.ensure((start + units) * UNIT);
    return start * UNIT;
  }

  /** Grow the memory to at least `end` bytes (another thread may be growing it too). */
  private ensure(end: number): void {
    for (;;) {
      const have = this.memory.buffer.byteLength;
      if (end <= have) return;
      const current = have / PAGE;
      const needed = Math.ceil((end - have) / PAGE);
      // Grow by a quarter at least, so a growing histogram pool does not grow page by page.
      const pages = Math.max(needed, Math.min(Math.ceil(current / 4), this.maxPages - current));
      try {
        this.memory.grow(pages);
      } catch (error) {
        // Another thread grew it meanwhile (then loop), or there is no room.
        if (this.memory.buffer.byteLength === have) throw error;
      }
    }
  }

  private current(): ArrayBufferLike {
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    return buffer;
  }

  u8(length: number): Uint8Array {
    const offset = this.allocate(length);
    return new Uint8Array(this.current(), offset, length);
  }

  u32(length: number): Uint32Array {
    const offset = this.allocate(length * 4);
    return new Uint32Array(this.current(), offset, length);
  }

  i32(length: number): Int32Array {
    const offset = this.allocate(length * 4);
    return new Int32Array(this.current(), offset, length);
  }

  f64(length: number): Float64Array {
    const offset = this.allocate(length * 8);
    return new Float64Array(this.current(), offset, length);
  }

  /** The float64 array at byte `offset` (made by any thread). */
  f64At(offset: number, length: number): Float64Array {
    let buffer = this.current();
    if (offset + length * 8 > buffer.byteLength) buffer = this.current();
    return new Float64Array(buffer, offset, length);
  }

  /** The arrays at byte `offset` (made by any thread), for the other element types. */
  u8At(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.current(), offset, length);
  }

  u32At(offset: number, length: number): Uint32Array {
    return new Uint32Array(this.current(), offset, length);
  }

  i32At(offset: number, length: number): Int32Array {
    return new Int32Array(this.current(), offset, length);
  }
}

/** The memory of a handle: a WebAssembly.Memory as is, a growable SharedArrayBuffer wrapped. */
function memoryOf(raw: unknown): WasmMemory {
  if (raw instanceof SharedArrayBuffer) return growableView(raw as GrowableBuffer);
  return raw as WasmMemory;
}

/** A shared memory reserving as much address space as the system gives (up to 4 GiB). */
function createMemory(initial: number): { memory: WasmMemory; maximum: number } {
  for (let maximum = MAX_PAGES; ; maximum = Math.max(initial, Math.floor(maximum / 2))) {
    try {
      const memory = wasmApi
        ? new wasmApi.Memory({ initial, maximum, shared: true })
        : growableMemory(initial, maximum);
      return { memory, maximum };
    } catch (error) {
      if (maximum === initial) throw error;
    }
  }
}

type GrowableBuffer = SharedArrayBuffer & { grow(length: number): void };

/**
 * Without WebAssembly (node --jitless) the arena is a growable SharedArrayBuffer with the same
 * interface; only the TypeScript kernels run then.
 */
function growableMemory(initial: number, maximum: number): WasmMemory {
  // ES2024 API; the project's lib setting (ES2023) does not declare it.
  const Growable = SharedArrayBuffer as unknown as new (
    length: number,
    options: { maxByteLength: number },
  ) => GrowableBuffer;
  return growableView(new Growable(initial * PAGE, { maxByteLength: maximum * PAGE }));
}

function growableView(buffer: GrowableBuffer): WasmMemory {
  return {
    buffer,
    grow(pages: number): number {
      const before = buffer.byteLength / PAGE;
      buffer.grow(buffer.byteLength + pages * PAGE);
      return before;
    },
  };
}
