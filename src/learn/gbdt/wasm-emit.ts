/**
 * A tiny WebAssembly binary emitter for the GBDT kernels (histograms in wasm-histogram.ts,
 * prediction in wasm-predict.ts). The kernels are generated here instruction by instruction
 * rather than shipped as opaque binaries; these helpers encode the few pieces of the binary
 * format they need (LEB128 integers, vectors, sections, names) and the opcodes they use.
 */

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (32-bit). */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A length-prefixed vector of already encoded items. */
export function vector(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A module section: id, byte length, contents. */
export function section(id: number, bytes: readonly number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

/** A UTF-8 name (imports, exports). */
export function name(text: string): number[] {
  return vector([...Buffer.from(text, "utf8")].map((b) => [b]));
}

/** A function body: its locals (count, type) runs, then its code, length-prefixed. */
export function functionBody(
  locals: readonly [number, number][],
  code: readonly number[],
): number[] {
  const body = [...vector(locals.map(([count, type]) => [...uleb(count), type])), ...code];
  return [...uleb(body.length), ...body];
}

/** The module header (magic and version 1). */
export const MODULE_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** Instructions used by the kernels (opcodes from the WebAssembly core and SIMD specs). */
export const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  f64One: [0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  i32Sub: [0x6b],
  i32Xor: [0x73],
  i32ShrU: [0x76],
  i32RemU: [0x70],
  i32Store: [0x36, 2, 0],
  i32Const1: [0x41, 1],
  memoryCopy: [0xfc, ...uleb(10), 0, 0],
  i32Eqz: [0x45],
  i32Eq: [0x46],
  i32LtU: [0x49],
  i32GtS: [0x4a],
  i32GtU: [0x4b],
  i32GeU: [0x4f],
  f64Add: [0xa0],
  f64Sub: [0xa1],
  i32And: [0x71],
  i32Or: [0x72],
  select: [0x1b],
  // memarg = alignment exponent, then offset.
  i32Load: [0x28, 2, 0],
  i32LoadAt: (offset: number) => [0x28, 2, ...uleb(offset)],
  i32Load8U: [0x2d, 0, 0],
  i32Load16U: [0x2f, 1, 0],
  f64Load: (offset: number) => [0x2b, 3, ...uleb(offset)],
  f64Store: (offset: number) => [0x39, 3, ...uleb(offset)],
  v128Load: [0xfd, ...uleb(0), 3, 0],
  v128Store: [0xfd, ...uleb(11), 3, 0],
  f64x2Add: [0xfd, ...uleb(240)],
  f64x2Sub: [0xfd, ...uleb(241)],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  end: [0x0b],
};
