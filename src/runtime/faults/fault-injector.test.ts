import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRandom } from "../../learn/random.ts";
import { InvalidInputError } from "../errors.ts";
import {
  delay,
  FaultInjector,
  type FaultSettings,
  FaultSettingsError,
  hang,
  parseFaultSettings,
} from "./fault-injector.ts";

const T0 = 1_700_000_000_000;

function settings(over: Partial<FaultSettings> = {}): FaultSettings {
  return { kind: "error", rate: 0.5, delayMs: 1000, target: "model", until: T0 + 60_000, ...over };
}

/** A clock the test moves by hand. */
function clock(start = T0) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe("FaultInjector", () => {
  it("injects nothing until armed, and nothing for the other target", () => {
    const c = clock();
    const faults = new FaultInjector({ now: c.now, random: () => 0 });
    expect(faults.armed).toBeUndefined();
    expect(faults.roll("model")).toBeUndefined();
    faults.arm(settings({ target: "http", rate: 1 }));
    expect(faults.roll("model")).toBeUndefined();
    expect(faults.roll("http")?.kind).toBe("error");
    expect(faults.injected).toEqual({ slow: 0, error: 1, hang: 0 });
  });

  it("injects exactly the share of calls whose random number is below the rate", () => {
    // A random source cycling 0, 0.1, ..., 0.9: a rate of 0.3 takes 0, 0.1 and 0.2 of each ten.
    let i = 0;
    const faults = new FaultInjector({ now: clock().now, random: () => (i++ % 10) / 10 });
    faults.arm(settings({ kind: "slow", rate: 0.3 }));
    let hits = 0;
    for (let n = 0; n < 1000; n++) if (faults.roll("model")) hits++;
    expect(hits).toBe(300);
    expect(faults.injected).toEqual({ slow: 300, error: 0, hang: 0 });
  });

  it("with a seeded random, injects close to the rate (binomial bounds)", () => {
    const random = createRandom(42);
    const faults = new FaultInjector({ now: clock().now, random: () => random.nextFloat() });
    for (const rate of [0.05, 0.25, 0.5, 0.9]) {
      faults.arm(settings({ kind: "hang", rate }));
      const n = 20_000;
      for (let k = 0; k < n; k++) faults.roll("model");
      const injected = faults.injected.hang;
      // Five standard deviations of a binomial(n, rate).
      const sd = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(injected - n * rate)).toBeLessThan(5 * sd);
    }
  });

  it("never injects at rate 0 and always at rate 1, whatever the random number", () => {
    const values = [0, 0.5, 0.999_999_999];
    let i = 0;
    const faults = new FaultInjector({ now: clock().now, random: () => values[i++ % 3] ?? 0 });
    faults.arm(settings({ rate: 0 }));
    for (let n = 0; n < 30; n++) expect(faults.roll("model")).toBeUndefined();
    faults.arm(settings({ rate: 1 }));
    for (let n = 0; n < 30; n++) expect(faults.roll("model")).toBeDefined();
  });

  it("expires at `until`, which disarms it, and keeps the counts for the report", () => {
    const c = clock();
    const faults = new FaultInjector({ now: c.now, random: () => 0 });
    faults.arm(settings({ rate: 1, until: T0 + 5000 }));
    expect(faults.roll("model")).toBeDefined();
    c.t = T0 + 4999;
    expect(faults.current()?.kind).toBe("error");
    c.t = T0 + 5000;
    expect(faults.current()).toBeUndefined();
    expect(faults.armed).toBeUndefined();
    expect(faults.roll("model")).toBeUndefined();
    expect(faults.injected).toEqual({ slow: 0, error: 1, hang: 0 });
  });

  it("current(now) judges expiry at the time given", () => {
    const faults = new FaultInjector({ now: clock().now });
    faults.arm(settings({ until: T0 + 100 }));
    expect(faults.current(T0 + 99)).toBeDefined();
    expect(faults.current(T0 + 100)).toBeUndefined();
  });

  it("disarm ends the fault; arm starts the counts afresh", () => {
    const faults = new FaultInjector({ now: clock().now, random: () => 0 });
    faults.arm(settings({ rate: 1 }));
    faults.roll("model");
    faults.roll("model");
    faults.disarm();
    expect(faults.roll("model")).toBeUndefined();
    expect(faults.injected.error).toBe(2);
    faults.arm(settings({ rate: 1, kind: "slow" }));
    expect(faults.injected).toEqual({ slow: 0, error: 0, hang: 0 });
  });

  it("hands out a snapshot of the counts, not its own record", () => {
    const faults = new FaultInjector({ now: clock().now, random: () => 0 });
    faults.arm(settings({ rate: 1 }));
    const before = faults.injected;
    faults.roll("model");
    expect(before.error).toBe(0);
    expect(faults.injected.error).toBe(1);
  });

  it("keeps its own copy of the settings", () => {
    const faults = new FaultInjector({ now: clock().now });
    const s = { ...settings() };
    faults.arm(s);
    s.rate = 0.9;
    expect(faults.current()?.rate).toBe(0.5);
  });

  it("refuses bad settings with a RangeError naming the field", () => {
    const faults = new FaultInjector({ now: clock().now });
    const cases: [Partial<Record<keyof FaultSettings, unknown>>, string][] = [
      [{ kind: "explode" }, "kind"],
      [{ rate: -0.1 }, "rate"],
      [{ rate: 1.01 }, "rate"],
      [{ rate: Number.NaN }, "rate"],
      [{ delayMs: -1 }, "delayMs"],
      [{ delayMs: Number.POSITIVE_INFINITY }, "delayMs"],
      [{ target: "database" }, "target"],
      [{ until: T0 }, "until"],
      [{ until: Number.NaN }, "until"],
    ];
    for (const [over, field] of cases) {
      const bad = { ...settings(), ...over } as FaultSettings;
      expect(() => faults.arm(bad)).toThrow(RangeError);
      expect(() => faults.arm(bad)).toThrow(new RegExp(`^${field} `));
    }
    expect(faults.armed).toBeUndefined();
  });
});

describe("parseFaultSettings", () => {
  it("reads a full body, ending durationSeconds after now", () => {
    expect(
      parseFaultSettings(
        { fault: "slow", rate: 0.2, durationSeconds: 30, delayMs: 250, target: "http" },
        T0,
      ),
    ).toEqual({ kind: "slow", rate: 0.2, delayMs: 250, target: "http", until: T0 + 30_000 });
  });

  it("defaults delayMs to 1000 and target to model", () => {
    expect(parseFaultSettings({ fault: "hang", rate: 1, durationSeconds: 1 }, T0)).toEqual({
      kind: "hang",
      rate: 1,
      delayMs: 1000,
      target: "model",
      until: T0 + 1000,
    });
  });

  it("names every problem by its field", () => {
    let error: unknown;
    try {
      parseFaultSettings(
        { fault: "boom", rate: 2, durationSeconds: 0, delayMs: -5, target: "db", extra: 1 },
        T0,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FaultSettingsError);
    // An InvalidInputError: the server answers 400 with the problems and nothing new to map.
    expect(error).toBeInstanceOf(InvalidInputError);
    const e = error as FaultSettingsError;
    expect(e.status).toBe(400);
    expect(e.problems.map((p) => p.path).sort()).toEqual(
      ["/delayMs", "/durationSeconds", "/extra", "/fault", "/rate", "/target"].sort(),
    );
    expect(e.message).toContain("/rate must be between 0 and 1");
    expect(e.message).toContain("/durationSeconds must be between 1 and 3600");
    expect(e.path).toBe(e.problems[0]?.path);
  });

  it("requires fault, rate and durationSeconds", () => {
    let error: unknown;
    try {
      parseFaultSettings({}, T0);
    } catch (e) {
      error = e;
    }
    expect((error as FaultSettingsError).problems).toEqual([
      { path: "/fault", message: "is required" },
      { path: "/rate", message: "is required" },
      { path: "/durationSeconds", message: "is required" },
    ]);
  });

  it("refuses a body that is not an object", () => {
    for (const body of [null, [], "slow", 3]) {
      expect(() => parseFaultSettings(body, T0)).toThrow(FaultSettingsError);
    }
  });

  it("accepts exactly the bodies within the documented ranges (property)", () => {
    const kinds = ["slow", "error", "hang"];
    const targets = ["model", "http"];
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...kinds), fc.string(), fc.integer()),
        fc.oneof(fc.double({ min: -1, max: 2 }), fc.constant(Number.NaN), fc.string()),
        fc.oneof(fc.double({ min: -10, max: 4000, noNaN: true }), fc.boolean()),
        fc.option(fc.oneof(fc.double({ min: -10, max: 700_000, noNaN: true }), fc.string()), {
          nil: undefined,
        }),
        fc.option(fc.oneof(fc.constantFrom(...targets), fc.string()), { nil: undefined }),
        (fault, rate, durationSeconds, delayMs, target) => {
          const body: Record<string, unknown> = { fault, rate, durationSeconds };
          if (delayMs !== undefined) body.delayMs = delayMs;
          if (target !== undefined) body.target = target;
          const valid =
            kinds.includes(fault as string) &&
            typeof rate === "number" &&
            rate >= 0 &&
            rate <= 1 &&
            typeof durationSeconds === "number" &&
            durationSeconds >= 1 &&
            durationSeconds <= 3600 &&
            (delayMs === undefined ||
              (typeof delayMs === "number" && delayMs >= 0 && delayMs <= 600_000)) &&
            (target === undefined || targets.includes(target));
          if (valid) {
            const s = parseFaultSettings(body, T0);
            expect(s.kind).toBe(fault);
            expect(s.rate).toBe(rate);
            expect(s.until).toBe(T0 + (durationSeconds as number) * 1000);
            expect(s.delayMs).toBe(delayMs ?? 1000);
            expect(s.target).toBe(target ?? "model");
            // Whatever the parser accepts, the injector accepts.
            new FaultInjector({ now: () => T0 }).arm(s);
          } else {
            expect(() => parseFaultSettings(body, T0)).toThrow(FaultSettingsError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("delay and hang", () => {
  it("delay resolves after its time", async () => {
    const started = performance.now();
    await delay(30, new AbortController().signal);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("delay rejects with the signal's reason when it aborts, before its time", async () => {
    const controller = new AbortController();
    const reason = new Error("deadline");
    const started = performance.now();
    setTimeout(() => controller.abort(reason), 20);
    await expect(delay(10_000, controller.signal)).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("delay and hang reject at once on a signal already aborted", async () => {
    const reason = new Error("gone");
    await expect(delay(10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    await expect(hang(AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it("hang settles only when the signal aborts", async () => {
    const controller = new AbortController();
    let settled = false;
    const waiting = hang(controller.signal).catch((e: unknown) => {
      settled = true;
      return e;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    const reason = new Error("deadline");
    controller.abort(reason);
    expect(await waiting).toBe(reason);
  });
});
