/**
 * The few WebAssembly JS-API members the GBDT kernels use, typed here because the project's
 * compiler settings (lib ES2023, no DOM) ship no WebAssembly declarations.
 */

/** A WebAssembly.Memory; shared ones have a SharedArrayBuffer that never moves on grow. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

/** A compiled module (structured-cloneable, so it can be posted to workers). */
export type WasmModule = object;

/** An instantiated module's exports. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmNamespace {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
}

/** The global WebAssembly object, or undefined on a runtime without it (then JS kernels run). */
export const wasmApi: WasmNamespace | undefined = (
  globalThis as unknown as { WebAssembly?: WasmNamespace }
).WebAssembly;
