import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalHash, canonicalJson } from "./canonical-json.ts";

/** The same JSON value with every object's keys in another order (a seeded shuffle). */
function reorderKeys(value: unknown, seed: number): unknown {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== "object") return v;
    const entries = Object.entries(v as Record<string, unknown>);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      const a = entries[i];
      const b = entries[j];
      if (a === undefined || b === undefined) continue;
      entries[i] = b;
      entries[j] = a;
    }
    // fromEntries defines own properties, so a "__proto__" key stays a key.
    return Object.fromEntries(entries.map(([k, item]) => [k, walk(item)]));
  };
  return walk(value);
}

/** JSON equality independent of key order, with -0 and 0 the same (as JSON has it). */
const jsonEqual = (a: unknown, b: unknown) =>
  isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));

describe("canonicalJson", () => {
  it("does not depend on key order (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        const reordered = reorderKeys(value, seed);
        expect(canonicalJson(reordered)).toBe(canonicalJson(value));
        expect(canonicalHash(reordered)).toBe(canonicalHash(value));
      }),
      { numRuns: 300 },
    );
  });

  it("is valid JSON for the same value (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonEqual(JSON.parse(canonicalJson(value)), value)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("gives equal text exactly for equal JSON values (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), (a, b) => {
        expect(canonicalJson(a) === canonicalJson(b)).toBe(jsonEqual(a, b));
        expect(canonicalHash(a) === canonicalHash(b)).toBe(jsonEqual(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it("changes when any one leaf of a record changes (property)", () => {
    const scalar = fc.oneof(
      fc.string(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), scalar, { minKeys: 1 }),
        fc.nat(),
        scalar,
        (record, pick, replacement) => {
          const keys = Object.keys(record);
          const key = keys[pick % keys.length] ?? "";
          const changed = { ...record, [key]: replacement };
          const same = jsonEqual(changed, record);
          expect(canonicalJson(changed) === canonicalJson(record)).toBe(same);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("writes sorted keys, no whitespace, nested", () => {
    expect(canonicalJson({ b: [3, { z: 1, a: "x" }], a: null })).toBe(
      '{"a":null,"b":[3,{"a":"x","z":1}]}',
    );
  });

  it("formats numbers one way: -0 is 0, same number same text", () => {
    expect(canonicalJson(-0)).toBe("0");
    expect(canonicalJson({ x: -0 })).toBe(canonicalJson({ x: 0 }));
    expect(canonicalJson(100)).toBe(canonicalJson(1e2));
    expect(canonicalJson(1.5)).toBe(canonicalJson(Number("1.50")));
    expect(canonicalJson(1e21)).toBe("1e+21");
    expect(canonicalJson(1e-7)).toBe("1e-7");
    expect(canonicalJson(0.1 + 0.2)).not.toBe(canonicalJson(0.3));
    expect(canonicalJson(1)).not.toBe(canonicalJson(1 + Number.EPSILON));
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        expect(canonicalJson(n)).toBe(JSON.stringify(n));
        expect(Number(canonicalJson(n))).toBe(n === 0 ? 0 : n);
      }),
    );
  });

  it("writes strings and keys exactly as JSON.stringify does (property)", () => {
    const tricky = fc.constantFrom('"', "\\", "\n", "\u0000", "\u001f", "\u007f", "\u2028", "é");
    const surrogates = fc.constantFrom("\ud800", "\udc00", "\ud83d\ude00", "a");
    const text = fc.oneof(fc.string({ unit: fc.oneof(tricky, surrogates) }), fc.string());
    fc.assert(
      fc.property(
        text,
        (value) =>
          canonicalJson(value) === JSON.stringify(value) &&
          canonicalJson({ [value]: 1 }) === `{${JSON.stringify(value)}:1}`,
      ),
      { numRuns: 300 },
    );
    expect(canonicalJson('a"b\\c\n\u0001\u2028\ud83d\ude00\ud800')).toBe(
      JSON.stringify('a"b\\c\n\u0001\u2028\ud83d\ude00\ud800'),
    );
  });

  it("keeps values of different types apart", () => {
    const values: unknown[] = [
      1,
      "1",
      true,
      "true",
      null,
      "null",
      [],
      {},
      [1, 2],
      [2, 1],
      { a: 1 },
      { a: 1, b: null },
      { a: [1] },
      "\ud800",
      "\ufffd",
    ];
    const texts = new Set(values.map(canonicalJson));
    expect(texts.size).toBe(values.length);
  });

  it("follows JSON for undefined, functions and toJSON", () => {
    expect(canonicalJson({ a: undefined, b: () => 1, c: 2 })).toBe('{"c":2}');
    expect(canonicalJson([undefined, Symbol("s")])).toBe("[null,null]");
    expect(canonicalJson({ at: new Date("2024-01-02T03:04:05.000Z") })).toBe(
      '{"at":"2024-01-02T03:04:05.000Z"}',
    );
  });

  it("refuses what JSON cannot represent instead of writing null", () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson({ x: Number.POSITIVE_INFINITY })).toThrow(/Infinity/);
    expect(() => canonicalJson({ x: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson(undefined)).toThrow(/top-level undefined/);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cyclic/);
    // A shared (not cyclic) reference is fine.
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"v":1},"b":{"v":1}}');
  });
});
