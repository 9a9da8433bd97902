import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cacheKey, ResponseCache } from "./response-cache.ts";

/** A clock the test moves by hand, so TTLs are tested without sleeping. */
function manualClock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const row = { tenure: 12, plan: "pro", monthly: 49.5, churned_before: false };

describe("ResponseCache", () => {
  it("serves what was set, counts hits and misses", () => {
    const cache = new ResponseCache({ maxEntries: 10, ttlMs: 60_000 });
    expect(cache.hitRate()).toBe(0);
    expect(cache.get("a")).toBeUndefined();
    cache.set("a", { prediction: "yes", probabilities: { yes: 0.9, no: 0.1 } });
    cache.set("n", null);
    expect(cache.get("a")).toEqual({ prediction: "yes", probabilities: { yes: 0.9, no: 0.1 } });
    expect(cache.get("a")).toBeDefined();
    expect(cache.get("n")).toBeNull();
    expect(cache.get("b")).toBeUndefined();
    expect(cache.hits).toBe(3);
    expect(cache.misses).toBe(2);
    expect(cache.hitRate()).toBeCloseTo(3 / 5);
  });

  it("expires entries after the TTL", () => {
    const clock = manualClock();
    const cache = new ResponseCache({ maxEntries: 10, ttlMs: 1_000, clock });
    cache.set("k", 1);
    clock.advance(999);
    expect(cache.get("k")).toBe(1);
    clock.advance(2);
    expect(cache.get("k")).toBeUndefined();
    expect(cache.misses).toBe(1);
    // Setting again starts a new TTL.
    cache.set("k", 2);
    clock.advance(500);
    expect(cache.get("k")).toBe(2);
  });

  it("keeps entries without a TTL when ttlMs is 0", () => {
    const clock = manualClock();
    const cache = new ResponseCache({ maxEntries: 10, ttlMs: 0, clock });
    cache.set("k", "v");
    clock.advance(10 ** 9);
    expect(cache.get("k")).toBe("v");
  });

  it("holds at most maxEntries, evicting the least recently used", () => {
    const cache = new ResponseCache({ maxEntries: 3, ttlMs: 60_000 });
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("c", 3);
    expect(cache.get("a")).toBe(1); // a is now the most recently used
    cache.set("d", 4); // evicts b
    expect(cache.size).toBe(3);
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe(1);
    expect(cache.get("c")).toBe(3);
    expect(cache.get("d")).toBe(4);
    for (let i = 0; i < 1_000; i++) cache.set(`x${i}`, i);
    expect(cache.size).toBe(3);
  });

  it("clear() drops entries but keeps the counters", () => {
    const cache = new ResponseCache({ maxEntries: 3, ttlMs: 60_000 });
    cache.set("a", 1);
    expect(cache.get("a")).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.hits).toBe(1);
    expect(cache.misses).toBe(1);
  });

  it("set(key, undefined) forgets the key", () => {
    const cache = new ResponseCache({ maxEntries: 3, ttlMs: 60_000 });
    cache.set("a", 1);
    cache.set("a", undefined);
    expect(cache.get("a")).toBeUndefined();
  });

  it("refuses impossible bounds", () => {
    expect(() => new ResponseCache({ maxEntries: 0, ttlMs: 1 })).toThrow(/maxEntries/);
    expect(() => new ResponseCache({ maxEntries: 1.5, ttlMs: 1 })).toThrow(/maxEntries/);
    expect(() => new ResponseCache({ maxEntries: 1, ttlMs: -1 })).toThrow(/ttlMs/);
    expect(() => new ResponseCache({ maxEntries: 1, ttlMs: Number.NaN })).toThrow(/ttlMs/);
  });
});

describe("cacheKey", () => {
  it("starts with the app version, so a new version never hits an old version's entry", () => {
    const cache = new ResponseCache({ maxEntries: 100, ttlMs: 60_000 });
    cache.set(cacheKey("ver-1", row), { prediction: "old" });
    expect(cacheKey("ver-1", row).startsWith("ver-1:")).toBe(true);
    expect(cacheKey("ver-2", row)).not.toBe(cacheKey("ver-1", row));
    expect(cache.get(cacheKey("ver-2", row))).toBeUndefined();
    expect(cache.get(cacheKey("ver-1", row))).toEqual({ prediction: "old" });
  });

  it("ignores key order and tells different inputs and variants apart", () => {
    const reordered = { churned_before: false, monthly: 49.5, plan: "pro", tenure: 12 };
    expect(cacheKey("v", reordered)).toBe(cacheKey("v", row));
    expect(cacheKey("v", { ...row, tenure: 13 })).not.toBe(cacheKey("v", row));
    expect(cacheKey("v", row, "explain")).not.toBe(cacheKey("v", row));
    expect(cacheKey("v", row, "explain")).toBe(cacheKey("v", reordered, "explain"));
    expect(cacheKey("v", row, "")).not.toBe(cacheKey("v", row));
  });

  it("no two (version, variant, input) triples share a key (property)", () => {
    const triple = fc.tuple(
      fc.string(),
      fc.option(fc.string(), { nil: undefined }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(triple, triple, ([v1, w1, i1], [v2, w2, i2]) => {
        const same =
          v1 === v2 &&
          w1 === w2 &&
          isDeepStrictEqual(JSON.parse(JSON.stringify(i1)), JSON.parse(JSON.stringify(i2)));
        if (!same) expect(cacheKey(v1, i1, w1)).not.toBe(cacheKey(v2, i2, w2));
        expect(cacheKey(v1, i1, w1)).toBe(cacheKey(v1, i1, w1));
      }),
      { numRuns: 300 },
    );
  });
});
