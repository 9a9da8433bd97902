/**
 * Prediction in WebAssembly over integer-coded rows: the scorer GbdtModel uses wherever
 * WebAssembly runs (compiled.ts keeps the TypeScript kernel as the fallback).
 *
 * Coding. Each row is first coded as one 16-bit code per slot. A numeric feature with m
 * distinct thresholds in the forest is coded as the number of them below the value (found by
 * a branch-free binary search), so x <= t_j exactly when code <= j; NaN gets 0 in a slot for
 * splits that send missing values left and m + 1 in one for splits that send them right. A
 * categorical feature's codes (and `cardinality`, standing for missing and invalid codes) fall
 * into classes: two codes share a class when every split on the feature sends them the same
 * way.
 *
 * Two kinds of walk step, chosen per forest ("mode"):
 * - compare: a node goes right when code > threshold index. Categorical splits fit this too:
 *   their distinct left sets (sets of classes) are covered greedily by chains of nested sets,
 *   each chain gets a slot coded by the class's rank in the chain's order, and a node whose
 *   left set has s classes becomes "rank <= s − 1". Used when the chains need few slots.
 * - bits: a node goes right when bit `code` of its bitset is set (numeric: codes above j, plus
 *   NaN's code unless missing values go left; categorical: the classes that go right). One
 *   slot per feature. Used for forests whose categorical splits would need too many chains.
 *
 * Layout. Nodes are 16-byte records in one WebAssembly memory: the slot's byte offset in a
 * coded row, the threshold index or the bitset's address, the right child's address, and
 * (leaves) the address of the leaf's value. Trees are depth-first, so the left child is the
 * next record. A leaf goes right to itself (threshold −1, or an all-ones bitset), so every
 * walk is exactly its group's depth steps, branch-free: next = right ? right child : node + 16
 * (a `select`), with no bounds checks.
 *
 * Kernel (generated below instruction by instruction). GROUP trees are walked interleaved per
 * row, so the CPU overlaps their loads; rows go through a block one after another, one group
 * of trees after another, so a group's nodes stay in cache for the block. Leaves are added to
 * each row's sums in tree order: the same additions in the same order as the reference
 * traversal (`leafIndex`), so the scores are identical to the bit. The last group is padded
 * with a dummy tree whose leaf is −0 (x + −0 is x for every x).
 */
import type { Forest } from "./forest.ts";
import { FLAG_CATEGORICAL, FLAG_DEFAULT_LEFT } from "./forest.ts";
import type { WasmInstance, WasmMemory, WasmModule } from "./wasm-api.ts";
import { wasmApi } from "./wasm-api.ts";
import { functionBody, I32, MODULE_HEADER, name, op, section, uleb, vector } from "./wasm-emit.ts";

/** Trees walked together per row (the kernel is unrolled for this many). */
export const WASM_GROUP = 8;
const NODE_BYTES = 16;
const MAX_CODE = 0xffff;
/** Largest memory a model's kernel may take (1 GiB of 64 KiB pages). */
const MAX_PAGES = 16384;

/** How a node decides: see the module comment. */
export type WalkMode = "bits" | "compare";
const MODES: readonly WalkMode[] = ["bits", "compare"];

/** Kernel parameters (indices of the generated function's params). */
const P = {
  codes: 0,
  rows: 1,
  stride: 2,
  g0: 3,
  g1: 4,
  sums: 5,
  roots: 6,
  depths: 7,
  k: 8,
} as const;

/**
 * One step of a walk: the node whose address is in local `node` becomes its left or right
 * child for the coded row at local `row` (local `code` is scratch).
 */
function stepCode(node: number, row: number, code: number, mode: WalkMode): number[] {
  const c: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const part of parts) c.push(...part);
  };
  // code = codes16[row + slot]
  emit(op.localGet(node), op.i32Load, op.localGet(row), op.i32Add, op.i32Load16U);
  emit(op.localSet(code));
  // select(right, node + 16, goes right)
  emit(op.localGet(node), op.i32LoadAt(8), op.localGet(node), op.i32Const(NODE_BYTES));
  emit(op.i32Add);
  if (mode === "bits") {
    // (bits[addr + 4 * (code >> 5)] >> (code & 31)) & 1
    emit(op.localGet(node), op.i32LoadAt(4), op.localGet(code), op.i32Const(3), op.i32ShrU);
    emit(op.i32Const(-4), op.i32And, op.i32Add, op.i32Load, op.localGet(code), op.i32ShrU);
    emit(op.i32Const(1), op.i32And);
  } else {
    // code > threshold (signed: a leaf's −1 always goes right)
    emit(op.localGet(code), op.localGet(node), op.i32LoadAt(4), op.i32GtS);
  }
  emit(op.select, op.localSet(node));
  return c;
}

/**
 * Body of a walk kernel: walk(codes, rows, stride, g0, g1, sums, roots, depths[, k]).
 * For each group g in [g0, g1): for each of `rows` coded rows (stride bytes apart, from
 * `codes`) walk the group's GROUP trees (root addresses at roots + 32g) depths[g] steps and add
 * their leaves to the row's sums (8k bytes apart from `sums`). With `multi`, tree t of the group
 * adds to output (8g + t) mod k, else all to output 0.
 */
function walkBody(multi: boolean, mode: WalkMode): number[] {
  const params = multi ? 9 : 8;
  const G = WASM_GROUP;
  const p = (j: number) => params + j;
  const row = params + G;
  const sp = row + 1;
  const r = row + 2;
  const d = row + 3;
  const depth = row + 4;
  const rb = row + 5;
  const code = row + 6;
  const cls = row + 7;
  const c0 = row + 8;
  const tmp = row + 9;
  const locals = 10;
  const c: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const part of parts) c.push(...part);
  };
  emit(op.block, op.localGet(P.g0), op.localGet(P.g1), op.i32GeU, op.brIf(0), op.loop);
  // depth = depths[g]; rb = roots + 32g; row = codes; sp = sums; r = rows.
  emit(op.localGet(P.depths), op.localGet(P.g0), op.i32Const(2), op.i32Shl, op.i32Add);
  emit(op.i32Load, op.localSet(depth));
  emit(op.localGet(P.roots), op.localGet(P.g0), op.i32Const(5), op.i32Shl, op.i32Add);
  emit(op.localSet(rb), op.localGet(P.codes), op.localSet(row), op.localGet(P.sums));
  emit(op.localSet(sp), op.localGet(P.rows), op.localSet(r));
  if (multi) {
    // c0 = 8g mod k
    emit(op.localGet(P.g0), op.i32Const(3), op.i32Shl, op.localGet(P.k), op.i32RemU);
    emit(op.localSet(c0));
  }
  emit(op.block, op.localGet(r), op.i32Eqz, op.brIf(0), op.loop);
  for (let j = 0; j < G; j++) emit(op.localGet(rb), op.i32LoadAt(4 * j), op.localSet(p(j)));
  emit(op.localGet(depth), op.localSet(d));
  emit(op.block, op.localGet(d), op.i32Eqz, op.brIf(0), op.loop);
  for (let j = 0; j < G; j++) c.push(...stepCode(p(j), row, code, mode));
  emit(op.localGet(d), op.i32Const(1), op.i32Sub, op.localTee(d), op.brIf(0), op.end, op.end);
  if (!multi) {
    // sums[sp] += leaf_0 + ... in tree order
    emit(op.localGet(sp), op.localGet(sp), op.f64Load(0));
    for (let j = 0; j < G; j++) emit(op.localGet(p(j)), op.i32LoadAt(12), op.f64Load(0), op.f64Add);
    emit(op.f64Store(0));
  } else {
    emit(op.localGet(c0), op.localSet(cls));
    for (let j = 0; j < G; j++) {
      // tmp = sp + 8 cls; sums[tmp] += leaf_j; cls = cls + 1 == k ? 0 : cls + 1
      emit(op.localGet(sp), op.localGet(cls), op.i32Const(3), op.i32Shl, op.i32Add);
      emit(op.localTee(tmp), op.localGet(tmp), op.f64Load(0), op.localGet(p(j)));
      emit(op.i32LoadAt(12), op.f64Load(0), op.f64Add, op.f64Store(0));
      emit(op.i32Const(0), op.localGet(cls), op.i32Const(1), op.i32Add, op.localTee(cls));
      emit(op.localGet(cls), op.localGet(P.k), op.i32Eq, op.select, op.localSet(cls));
    }
  }
  // row += stride; sp += 8 (or 8k); continue while --r.
  emit(op.localGet(row), op.localGet(P.stride), op.i32Add, op.localSet(row));
  emit(op.localGet(sp));
  if (multi) emit(op.localGet(P.k), op.i32Const(3), op.i32Shl);
  else emit(op.i32Const(8));
  emit(op.i32Add, op.localSet(sp));
  emit(op.localGet(r), op.i32Const(1), op.i32Sub, op.localTee(r), op.brIf(0), op.end, op.end);
  // next group
  emit(op.localGet(P.g0), op.i32Const(1), op.i32Add, op.localTee(P.g0), op.localGet(P.g1));
  emit(op.i32LtU, op.brIf(0), op.end, op.end, op.end);
  return functionBody([[locals + G, I32]], c);
}

/** Export name of the kernel for one output or k, in one mode. */
function kernelName(multi: boolean, mode: WalkMode): string {
  return `${multi ? "walkk" : "walk1"}_${mode}`;
}

/** The kernel module's bytes: walk1_<mode> (one output) and walkk_<mode> (k) for each mode. */
export function predictModuleBytes(): Uint8Array {
  const types = [8, 9].map((params) => [0x60, ...vector(Array(params).fill([I32])), 0]);
  const kernels = MODES.flatMap((mode) =>
    [false, true].map((multi) => ({
      label: kernelName(multi, mode),
      type: multi ? 1 : 0,
      body: walkBody(multi, mode),
    })),
  );
  // Import env.memory: an ordinary (not shared) memory of at least one page.
  const memoryImport = [...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)];
  return Uint8Array.from([
    ...MODULE_HEADER,
    ...section(1, vector(types)),
    ...section(2, vector([memoryImport])),
    ...section(3, vector(kernels.map((k) => [k.type]))),
    ...section(7, vector(kernels.map((k, i) => [...name(k.label), 0x00, i]))),
    ...section(10, vector(kernels.map((k) => k.body))),
  ]);
}

let compiledModule: WasmModule | null | undefined;

/**
 * The compiled prediction module, or null when this runtime cannot run it (no WebAssembly, or
 * BALLAST_GBDT_WASM=0 to force the TypeScript kernel). Compiled once per thread.
 */
export function predictModule(): WasmModule | null {
  if (compiledModule !== undefined) return compiledModule;
  compiledModule = null;
  if (wasmApi && process.env.BALLAST_GBDT_WASM !== "0") {
    const bytes = predictModuleBytes();
    if (wasmApi.validate(bytes)) compiledModule = new wasmApi.Module(bytes);
  }
  return compiledModule;
}

type Walk = (
  codes: number,
  rows: number,
  stride: number,
  g0: number,
  g1: number,
  sums: number,
  roots: number,
  depths: number,
  k: number,
) => void;

/** Choices for tests and measurements; the defaults are what measured fastest. */
export interface WasmForestOptions {
  /**
   * Force a mode. Default: compare, unless categorical splits need more chain slots than
   * max(64, internal nodes / 16).
   */
  readonly mode?: WalkMode;
  /** Rows per batch block (default 512, or 2048 for forests of more than 2 MB). */
  readonly block?: number;
}

/**
 * How rows are coded. A numeric entry searches feature f's cut list once and writes the code
 * to one or two slots that differ only in the code of NaN; a categorical entry maps the
 * category code through its class table.
 */
interface Coding {
  readonly numFeature: Int32Array;
  /** Offset of the entry's cut list in `cuts` (padded with +Infinity to 2^b − 1 entries). */
  readonly numCuts: Int32Array;
  /** The binary search's first step (2^(b − 1), or 0 for an empty list). */
  readonly numTop: Int32Array;
  readonly numSlotA: Int32Array;
  readonly numNanA: Int32Array;
  /** Second slot (−1 for none) and its NaN code. */
  readonly numSlotB: Int32Array;
  readonly numNanB: Int32Array;
  readonly catFeature: Int32Array;
  /** Cardinality: codes 0 .. card − 1 are valid; entry `card` of the table is missing/invalid. */
  readonly catCard: Int32Array;
  /** Offset of the entry's code → class table in `classes` (cardinality + 1 entries). */
  readonly catTable: Int32Array;
  /** Classes of the entry. */
  readonly catClasses: Int32Array;
  /** The entry's slots: catSlots[e] from catSlot[e] on; slot q's code of class k is
   * ranks[catRanks[e] + q · catClasses[e] + k]. */
  readonly catSlot: Int32Array;
  readonly catSlots: Int32Array;
  readonly catRanks: Int32Array;
  readonly cuts: Float64Array;
  readonly classes: Int32Array;
  readonly ranks: Int32Array;
}

/** The forest laid out for the WebAssembly kernel (see the module comment). */
export class WasmForest {
  readonly trees: number;
  readonly width: number;
  /** Coded slots per row. */
  readonly slots: number;
  readonly mode: WalkMode;
  /** Rows per batch block. */
  readonly block: number;
  private readonly coding: Coding;
  private readonly codes: Uint16Array;
  private readonly sums: Float64Array;
  private readonly codesAt: number;
  private readonly sumsAt: number;
  private readonly rootsAt: number;
  private readonly depthsAt: number;
  private readonly groups: number;
  private readonly walk: Walk;

  private constructor(
    readonly outputs: number,
    layout: Layout,
    memory: WasmMemory,
    instance: WasmInstance,
  ) {
    this.trees = layout.trees;
    this.width = layout.width;
    this.slots = layout.slots;
    this.mode = layout.mode;
    this.block = layout.block;
    this.coding = layout.coding;
    this.codesAt = layout.codesAt;
    this.sumsAt = layout.sumsAt;
    this.rootsAt = layout.rootsAt;
    this.depthsAt = layout.depthsAt;
    this.groups = layout.groups;
    this.codes = new Uint16Array(memory.buffer, layout.codesAt, layout.block * layout.slots);
    this.sums = new Float64Array(memory.buffer, layout.sumsAt, layout.block * outputs);
    this.walk = instance.exports[kernelName(outputs > 1, layout.mode)] as Walk;
  }

  /**
   * Compile `forest` for the kernel; null when WebAssembly is unavailable or the forest has a
   * shape the coding cannot express (a NaN threshold, more than 65535 codes in a slot).
   */
  static create(
    forest: Forest,
    outputs: number,
    options: WasmForestOptions = {},
  ): WasmForest | null {
    const module = predictModule();
    if (!module || !wasmApi) return null;
    const layout = buildLayout(forest, outputs, options);
    if (!layout) return null;
    const pages = Math.ceil(layout.bytes.byteLength / 65536);
    if (pages > MAX_PAGES) return null;
    let memory: WasmMemory;
    let instance: WasmInstance;
    try {
      memory = new wasmApi.Memory({ initial: pages, maximum: pages });
      instance = new wasmApi.Instance(module, { env: { memory } });
    } catch {
      // No room for the memory: the TypeScript kernel needs none.
      return null;
    }
    new Uint8Array(memory.buffer).set(layout.bytes);
    return new WasmForest(outputs, layout, memory, instance);
  }

  /**
   * Add every tree's output for one row-major row (feature f at row[base + f]) to
   * out[at .. at + outputs), which holds the starting scores. Allocates nothing.
   */
  addRow(row: Float64Array, base: number, out: Float64Array, at = 0): void {
    this.addStrided(row, base, 1, out, at);
  }

  /** addRow for a row stored with a stride (feature f at data[base + f * stride]). */
  addStrided(data: Float64Array, base: number, stride: number, out: Float64Array, at = 0): void {
    encode(this.coding, data, base, stride, 1, this.codes, this.slots);
    const k = this.outputs;
    const sums = this.sums;
    for (let c = 0; c < k; c++) sums[c] = out[at + c] as number;
    this.run(1);
    for (let c = 0; c < k; c++) out[at + c] = sums[c] as number;
  }

  /**
   * Raw scores of every row of a column-major matrix (n rows) into `out`, row-major
   * (out[r * outputs + c]), starting from `baseScore`.
   */
  scoreMatrix(data: Float64Array, n: number, baseScore: Float64Array, out: Float64Array): void {
    const k = this.outputs;
    const sums = this.sums;
    const block = this.block;
    for (let start = 0; start < n; start += block) {
      const size = Math.min(block, n - start);
      encode(this.coding, data, start, n, size, this.codes, this.slots);
      for (let r = 0; r < size; r++)
        for (let c = 0; c < k; c++) sums[r * k + c] = baseScore[c] as number;
      this.run(size);
      out.set(sums.subarray(0, size * k), start * k);
    }
  }

  private run(rows: number): void {
    const { codesAt, sumsAt, rootsAt, depthsAt } = this;
    this.walk(
      codesAt,
      rows,
      2 * this.slots,
      0,
      this.groups,
      sumsAt,
      rootsAt,
      depthsAt,
      this.outputs,
    );
  }
}

/**
 * Code `rows` rows into codes (row r at codes[r * slots ..]); row r's feature f is
 * data[start + r + f * stride]: a column-major block (start = first row, stride = n) or one
 * row (rows = 1, its own base and stride).
 */
function encode(
  coding: Coding,
  data: Float64Array,
  start: number,
  stride: number,
  rows: number,
  codes: Uint16Array,
  slots: number,
): void {
  const { numFeature, numCuts, numTop, numSlotA, numNanA, numSlotB, numNanB, cuts } = coding;
  for (let e = 0; e < numFeature.length; e++) {
    const column = start + (numFeature[e] as number) * stride;
    const a = numCuts[e] as number;
    const first = numTop[e] as number;
    const slotA = numSlotA[e] as number;
    const nanA = numNanA[e] as number;
    const slotB = numSlotB[e] as number;
    const nanB = numNanB[e] as number;
    for (let r = 0; r < rows; r++) {
      const x = data[column + r] as number;
      // pos = number of cuts below x, branch-free (NaN compares false: pos = 0).
      let pos = 0;
      for (let step = first; step > 0; step >>>= 1)
        pos += step & -(((cuts[a + pos + step - 1] as number) < x) as unknown as number);
      const nan = Number.isNaN(x);
      codes[r * slots + slotA] = nan ? nanA : pos;
      if (slotB >= 0) codes[r * slots + slotB] = nan ? nanB : pos;
    }
  }
  const { catFeature, catCard, catTable, catClasses, catSlot, catSlots, catRanks } = coding;
  const { classes, ranks } = coding;
  for (let e = 0; e < catFeature.length; e++) {
    const column = start + (catFeature[e] as number) * stride;
    const card = catCard[e] as number;
    const table = catTable[e] as number;
    const classCount = catClasses[e] as number;
    const first = catSlot[e] as number;
    const count = catSlots[e] as number;
    const rankTable = catRanks[e] as number;
    for (let r = 0; r < rows; r++) {
      const x = data[column + r] as number;
      const v = x >>> 0;
      const k = classes[table + (v === x && v < card ? v : card)] as number;
      for (let q = 0; q < count; q++)
        codes[r * slots + first + q] = ranks[rankTable + q * classCount + k] as number;
    }
  }
}

interface Layout {
  readonly trees: number;
  readonly width: number;
  readonly slots: number;
  readonly mode: WalkMode;
  readonly block: number;
  readonly groups: number;
  readonly coding: Coding;
  readonly bytes: Uint8Array;
  readonly codesAt: number;
  readonly sumsAt: number;
  readonly rootsAt: number;
  readonly depthsAt: number;
}

function setBit(bits: Uint32Array, k: number): void {
  bits[k >>> 5] = ((bits[k >>> 5] as number) | (1 << (k & 31))) >>> 0;
}

/**
 * Categorical splits are coded as compares when their chains need at most this many slots, or
 * one per 16 internal nodes if more: a slot costs about a nanosecond per row to code, a bit
 * test about a third of a nanosecond more than a compare per node visited, and a row visits
 * roughly trees × depth nodes, which grows with the node count.
 */
const CHAIN_SLOTS_MIN = 64;

/** A set of classes that is the left side of some nodes. */
interface LeftSet {
  readonly bits: Uint32Array;
  readonly size: number;
  readonly nodes: number[];
}

/** How one categorical feature's codes are coded (see buildLayout). */
interface CategoricalCoding {
  readonly feature: number;
  readonly card: number;
  /** Code → class; entry `card` is the class of missing and invalid codes. */
  readonly classOf: Int32Array;
  readonly classCount: number;
  /** The distinct left sets, covered by chains of nested sets (smallest first). */
  readonly chains: LeftSet[][];
}

function hasBit(bits: Uint32Array, k: number): boolean {
  return (((bits[k >>> 5] as number) >>> (k & 31)) & 1) === 1;
}

/**
 * Classes of feature f's codes (two codes share a class when every node sends them the same
 * way), each node's left set of classes (into nodeLeft), and a greedy cover of the distinct
 * left sets by chains (each set contains the one before), stopping after `limit` + 1 chains.
 */
function classesOf(
  forest: Forest,
  f: number,
  nodes: readonly number[],
  nodeLeft: Map<number, Uint32Array>,
  limit: number,
): CategoricalCoding {
  const { threshold, flags, catBits, cardinality } = forest;
  const card = cardinality[f] as number;
  // goesLeft(i, c): code c goes left at node i (c = card: missing or invalid).
  const goesLeft = (i: number, c: number): number => {
    if (c === card) return ((flags[i] as number) & FLAG_DEFAULT_LEFT) !== 0 ? 1 : 0;
    return ((catBits[(threshold[i] as number) + (c >>> 5)] as number) >>> (c & 31)) & 1;
  };
  const classOf = new Int32Array(card + 1);
  const remap = new Int32Array(2 * (card + 1));
  let classCount = 1;
  for (const i of nodes) {
    remap.fill(-1, 0, 2 * classCount);
    let next = 0;
    const base = threshold[i] as number;
    for (let c = 0; c <= card; c++) {
      const bit =
        c < card ? ((catBits[base + (c >>> 5)] as number) >>> (c & 31)) & 1 : goesLeft(i, card);
      const key = 2 * (classOf[c] as number) + bit;
      if (remap[key] === -1) remap[key] = next++;
      classOf[c] = remap[key] as number;
    }
    classCount = next;
  }
  // A code of each class stands for it.
  const representative = new Int32Array(classCount);
  for (let c = card; c >= 0; c--) representative[classOf[c] as number] = c;
  const distinct = new Map<string, LeftSet>();
  for (const i of nodes) {
    const bits = new Uint32Array((classCount + 31) >>> 5);
    let size = 0;
    for (let k = 0; k < classCount; k++) {
      if (goesLeft(i, representative[k] as number) === 1) {
        setBit(bits, k);
        size++;
      }
    }
    nodeLeft.set(i, bits);
    const key = bits.join(",");
    const known = distinct.get(key);
    if (known) known.nodes.push(i);
    else distinct.set(key, { bits, size, nodes: [i] });
  }
  const chains: LeftSet[][] = [];
  const sets = [...distinct.values()].sort((a, b) => a.size - b.size);
  for (const set of sets) {
    const chain = chains.find((c) => {
      const top = (c[c.length - 1] as LeftSet).bits;
      return top.every((w, j) => (w & ~(set.bits[j] as number)) === 0);
    });
    if (chain) chain.push(set);
    else if (chains.push([set]) > limit) break;
  }
  return { feature: f, card, classOf, classCount, chains };
}

/** Lay the forest out in linear memory (see the module comment); null if it cannot be. */
function buildLayout(forest: Forest, outputs: number, options: WasmForestOptions): Layout | null {
  const { feature, threshold, left, right, flags, value, roots, cardinality } = forest;
  const count = feature.length;
  const width = cardinality.length;
  // Which features are split on, how, and with which missing directions.
  const cutSets: (Set<number> | null)[] = Array.from({ length: width }, () => null);
  const catNodes: (number[] | null)[] = Array.from({ length: width }, () => null);
  const missing = new Uint8Array(width); // bit 1: some numeric split sends NaN left, 2: right
  let categoricalNodes = 0;
  let internalNodes = 0;
  for (let i = 0; i < count; i++) {
    const f = feature[i] as number;
    if (f < 0) continue;
    const flag = flags[i] as number;
    internalNodes++;
    if ((flag & FLAG_CATEGORICAL) !== 0) {
      categoricalNodes++;
      let nodes = catNodes[f];
      if (!nodes) {
        nodes = [];
        catNodes[f] = nodes;
      }
      nodes.push(i);
    } else {
      const t = threshold[i] as number;
      if (Number.isNaN(t)) return null;
      let set = cutSets[f];
      if (!set) {
        set = new Set();
        cutSets[f] = set;
      }
      set.add(t);
      missing[f] = (missing[f] as number) | ((flag & FLAG_DEFAULT_LEFT) !== 0 ? 1 : 2);
    }
  }
  // Categorical features: codes 0 .. card − 1 and `card` (missing or invalid) fall into
  // classes, refined by every split on the feature so a class goes one way at every node.
  // Each node's left side is then a set of classes.
  const chainLimit = Math.max(CHAIN_SLOTS_MIN, internalNodes >>> 4);
  const categorical: CategoricalCoding[] = [];
  const nodeLeft = new Map<number, Uint32Array>();
  let chainSlots = 0;
  for (let f = 0; f < width; f++) {
    const nodes = catNodes[f];
    if (!nodes) continue;
    const limit = options.mode === "compare" ? Number.POSITIVE_INFINITY : chainLimit - chainSlots;
    const coded = classesOf(forest, f, nodes, nodeLeft, Math.max(0, limit));
    if (coded.classCount - 1 > MAX_CODE) return null;
    categorical.push(coded);
    chainSlots += coded.chains.length;
  }
  // Compare mode when every split can be a threshold on some slot: always for numeric splits,
  // and for categorical ones through chains of nested left sets, one slot per chain, when
  // there are few enough chains that coding them costs less than the bit tests it saves.
  const compare =
    options.mode === "compare" ||
    (options.mode !== "bits" && (categoricalNodes === 0 || chainSlots <= chainLimit));
  const mode: WalkMode = compare ? "compare" : "bits";
  // Numeric slots. bits: one per feature (NaN = m + 1, its direction is a bit); compare: one
  // per missing direction used (NaN = 0 goes left everywhere, m + 1 right).
  let slots = 0;
  let maxCode = 0;
  const slotLeft = new Int32Array(width).fill(-1);
  const slotRight = new Int32Array(width).fill(-1);
  const sortedCuts: Float64Array[] = Array.from({ length: width }, () => new Float64Array(0));
  const num = {
    feature: [] as number[],
    cuts: [] as number[],
    top: [] as number[],
    slotA: [] as number[],
    nanA: [] as number[],
    slotB: [] as number[],
    nanB: [] as number[],
  };
  const cutList: number[] = [];
  for (let f = 0; f < width; f++) {
    const set = cutSets[f];
    if (!set) continue;
    const sorted = Float64Array.from(set).sort();
    sortedCuts[f] = sorted;
    const m = sorted.length;
    if (m + 1 > MAX_CODE) return null;
    maxCode = Math.max(maxCode, m + 1);
    let size = 1;
    while (size - 1 < m) size *= 2;
    num.feature.push(f);
    num.cuts.push(cutList.length);
    num.top.push(size >>> 1);
    for (let j = 0; j < size - 1; j++) cutList.push(j < m ? (sorted[j] as number) : Infinity);
    const ways = missing[f] as number;
    if (mode === "bits") {
      slotLeft[f] = slots;
      slotRight[f] = slots;
      num.slotA.push(slots++);
      num.nanA.push(m + 1);
      num.slotB.push(-1);
      num.nanB.push(0);
    } else {
      if ((ways & 1) !== 0) slotLeft[f] = slots++;
      if ((ways & 2) !== 0) slotRight[f] = slots++;
      num.slotA.push((ways & 1) !== 0 ? (slotLeft[f] as number) : (slotRight[f] as number));
      num.nanA.push((ways & 1) !== 0 ? 0 : m + 1);
      num.slotB.push(ways === 3 ? (slotRight[f] as number) : -1);
      num.nanB.push(m + 1);
    }
  }
  // Categorical slots. bits: one per feature, coded by class. compare: one per chain, coded by
  // the class's rank in the chain's order (a node's left set is then ranks 0 .. |set| − 1).
  const classList: number[] = [];
  const rankList: number[] = [];
  const cat = {
    feature: [] as number[],
    card: [] as number[],
    table: [] as number[],
    classes: [] as number[],
    slot: [] as number[],
    slots: [] as number[],
    ranks: [] as number[],
  };
  const nodeSlot = new Int32Array(count);
  const nodeThreshold = new Int32Array(count);
  for (const coded of categorical) {
    const { feature: f, card, classCount } = coded;
    cat.feature.push(f);
    cat.card.push(card);
    cat.table.push(classList.length);
    for (let c = 0; c <= card; c++) classList.push(coded.classOf[c] as number);
    cat.classes.push(classCount);
    cat.slot.push(slots);
    cat.ranks.push(rankList.length);
    if (mode === "bits") {
      cat.slots.push(1);
      for (let k = 0; k < classCount; k++) rankList.push(k);
      for (const i of catNodes[f] as number[]) nodeSlot[i] = slots;
      slots++;
      maxCode = Math.max(maxCode, classCount - 1);
      continue;
    }
    cat.slots.push(coded.chains.length);
    for (const chain of coded.chains) {
      const rank = new Int32Array(classCount).fill(-1);
      let next = 0;
      for (const set of chain) {
        for (let k = 0; k < classCount; k++)
          if (rank[k] === -1 && hasBit(set.bits, k)) rank[k] = next++;
        for (const i of set.nodes) {
          nodeSlot[i] = slots;
          nodeThreshold[i] = set.size - 1;
        }
      }
      for (let k = 0; k < classCount; k++)
        rankList.push(rank[k] === -1 ? next++ : (rank[k] as number));
      slots++;
    }
    maxCode = Math.max(maxCode, classCount - 1);
  }
  slots = Math.max(1, slots);
  const coding: Coding = {
    numFeature: Int32Array.from(num.feature),
    numCuts: Int32Array.from(num.cuts),
    numTop: Int32Array.from(num.top),
    numSlotA: Int32Array.from(num.slotA),
    numNanA: Int32Array.from(num.nanA),
    numSlotB: Int32Array.from(num.slotB),
    numNanB: Int32Array.from(num.nanB),
    catFeature: Int32Array.from(cat.feature),
    catCard: Int32Array.from(cat.card),
    catTable: Int32Array.from(cat.table),
    catClasses: Int32Array.from(cat.classes),
    catSlot: Int32Array.from(cat.slot),
    catSlots: Int32Array.from(cat.slots),
    catRanks: Int32Array.from(cat.ranks),
    cuts: Float64Array.from(cutList),
    classes: Int32Array.from(classList),
    ranks: Int32Array.from(rankList),
  };
  // Bitsets (bits mode; word offsets): all ones (leaves), then each distinct one once.
  const spanWords = ((maxCode + 31) >>> 5) + 1;
  const ONES = 0;
  const bitWords: number[] = new Array(spanWords).fill(0xffffffff);
  const bitsIndex = new Map<string, number>();
  const intern = (bits: Uint32Array): number => {
    const key = bits.join(",");
    let at = bitsIndex.get(key);
    if (at === undefined) {
      at = bitWords.length;
      for (const w of bits) bitWords.push(w);
      bitsIndex.set(key, at);
    }
    return at;
  };
  // Per internal node: its slot, its threshold (compare) or bitset (bits; word offset).
  const nodeBitset = new Int32Array(count);
  const numericBitsets = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const f = feature[i] as number;
    if (f < 0) continue;
    const missingLeft = ((flags[i] as number) & FLAG_DEFAULT_LEFT) !== 0;
    if (((flags[i] as number) & FLAG_CATEGORICAL) !== 0) {
      if (mode === "bits") {
        // The right side: the complement of the left set.
        const left = nodeLeft.get(i) as Uint32Array;
        nodeBitset[i] = intern(left.map((w) => ~w >>> 0));
      }
      continue;
    }
    const sorted = sortedCuts[f] as Float64Array;
    const m = sorted.length;
    const j = lowerBound(sorted, threshold[i] as number);
    nodeSlot[i] = (missingLeft ? slotLeft[f] : slotRight[f]) as number;
    nodeThreshold[i] = j;
    if (mode === "bits") {
      const key = 2 * (j * width + f) + (missingLeft ? 1 : 0);
      let at = numericBitsets.get(key);
      if (at === undefined) {
        // Codes j + 1 .. m go right, and NaN (m + 1) unless missing values go left.
        const bits = new Uint32Array((m + 2 + 31) >>> 5);
        for (let c = j + 1; c <= (missingLeft ? m : m + 1); c++) setBit(bits, c);
        at = intern(bits);
        numericBitsets.set(key, at);
      }
      nodeBitset[i] = at;
    }
  }
  const trees = roots.length;
  const groups = Math.ceil(trees / WASM_GROUP);
  // Bigger forests stream from further out in the cache hierarchy: score more rows per pass.
  const block = options.block ?? (count * NODE_BYTES > 1 << 21 ? 2048 : 512);
  // Memory: nodes (count + 1 with the dummy leaf), leaf values, bitsets, roots, depths,
  // codes block, sums block.
  const nodesAt = 0;
  const leavesAt = nodesAt + NODE_BYTES * (count + 1);
  const bitsAt = leavesAt + 8 * (count + 1);
  const rootsAt = align(bitsAt + 4 * bitWords.length, 16);
  const depthsAt = rootsAt + 4 * WASM_GROUP * groups;
  const codesAt = align(depthsAt + 4 * groups, 16);
  const sumsAt = align(codesAt + 2 * slots * block, 16);
  const total = sumsAt + 8 * outputs * block;
  const bytes = new Uint8Array(align(total, 65536));
  const words = new Int32Array(bytes.buffer);
  const leafValues = new Float64Array(bytes.buffer, leavesAt, count + 1);
  new Uint32Array(bytes.buffer, bitsAt, bitWords.length).set(bitWords);
  const leafRecord = (at: number, v: number): void => {
    words[4 * at] = 0;
    words[4 * at + 1] = mode === "compare" ? -1 : bitsAt + 4 * ONES;
    words[4 * at + 2] = NODE_BYTES * at;
    words[4 * at + 3] = leavesAt + 8 * at;
    leafValues[at] = v;
  };
  const dummy = count;
  leafRecord(dummy, -0);
  const treeRoots = new Int32Array(groups * WASM_GROUP).fill(NODE_BYTES * dummy);
  const depths = new Int32Array(groups);
  // Pre-order walk with an explicit stack of (source node, depth, word index of the parent's
  // right pointer or −1 for a left child or root).
  const stack = new Int32Array(3 * (count + 1));
  let next = 0;
  for (let t = 0; t < trees; t++) {
    treeRoots[t] = NODE_BYTES * next;
    let maxDepth = 0;
    let top = 0;
    stack[top++] = roots[t] as number;
    stack[top++] = 0;
    stack[top++] = -1;
    while (top > 0) {
      const patch = stack[--top] as number;
      const depth = stack[--top] as number;
      const src = stack[--top] as number;
      const at = next++;
      if (at >= count) return null;
      if (patch >= 0) words[patch] = NODE_BYTES * at;
      if ((feature[src] as number) < 0) {
        leafRecord(at, value[src] as number);
        if (depth > maxDepth) maxDepth = depth;
        continue;
      }
      const bitset = bitsAt + 4 * (nodeBitset[src] as number);
      words[4 * at] = 2 * (nodeSlot[src] as number);
      words[4 * at + 1] = mode === "compare" ? (nodeThreshold[src] as number) : bitset;
      words[4 * at + 3] = 0;
      stack[top++] = right[src] as number;
      stack[top++] = depth + 1;
      stack[top++] = 4 * at + 2;
      stack[top++] = left[src] as number;
      stack[top++] = depth + 1;
      stack[top++] = -1;
    }
    const g = Math.floor(t / WASM_GROUP);
    depths[g] = Math.max(depths[g] as number, maxDepth);
  }
  new Int32Array(bytes.buffer, rootsAt, treeRoots.length).set(treeRoots);
  new Int32Array(bytes.buffer, depthsAt, groups).set(depths);
  return {
    trees,
    width,
    slots,
    mode,
    block,
    groups,
    coding,
    bytes: bytes.subarray(0, total),
    codesAt,
    sumsAt,
    rootsAt,
    depthsAt,
  };
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function lowerBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
