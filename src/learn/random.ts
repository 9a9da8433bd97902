/**
 * A small seeded PRNG (SplitMix32 seeding a xoshiro128** state). Learners and splitters use it
 * instead of Math.random so that the same data, parameters and seed always give the same model.
 */

/** Deterministic random source; every learner gets its own from `createRandom(seed)`. */
export interface Random {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform float in [0, 1). */
  nextFloat(): number;
  /** Uniform integer in [0, bound). */
  nextInt(bound: number): number;
  /** Shuffle in place (Fisher-Yates). */
  shuffle(values: Uint32Array | Int32Array | number[]): void;
}

function splitMix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Create a PRNG from any finite number (non-integers and negatives are folded into 32 bits). */
export function createRandom(seed = 0): Random {
  const folded = Number.isFinite(seed) ? (Math.floor(seed) ^ Math.floor(seed / 2 ** 32)) >>> 0 : 0;
  const init = splitMix32(folded);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  if ((a | b | c | d) === 0) a = 1;
  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d >>> 0, 11);
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    return result;
  };
  const nextFloat = (): number => nextUint32() / 4294967296;
  const nextInt = (bound: number): number => Math.floor(nextFloat() * bound);
  const shuffle = (values: Uint32Array | Int32Array | number[]): void => {
    for (let i = values.length - 1; i > 0; i--) {
      const j = nextInt(i + 1);
      const tmp = values[i] as number;
      values[i] = values[j] as number;
      values[j] = tmp;
    }
  };
  return { nextUint32, nextFloat, nextInt, shuffle };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Derive an independent child seed, so sub-steps (folds, candidates) don't share a stream. */
export function deriveSeed(seed: number, salt: number): number {
  const next = splitMix32(((seed >>> 0) ^ Math.imul(salt + 1, 0x9e3779b9)) >>> 0);
  return next();
}
