import { describe, expect, it } from "vitest";
import { PSI_EPSILON, psi, psiLevel } from "./psi.ts";

describe("PSI", () => {
  it("matches a hand computation", () => {
    // (0.3−0.25)·ln(0.3/0.25) + (0.2−0.25)·ln(0.2/0.25) + (0.25−0.25)·0 + (0.25−0.25)·0
    const expected = 0.05 * Math.log(1.2) + -0.05 * Math.log(0.8);
    expect(psi([0.25, 0.25, 0.25, 0.25], [0.3, 0.2, 0.25, 0.25])).toBeCloseTo(expected, 14);
    expect(expected).toBeCloseTo(0.020273, 6);
  });

  it("is 0 for identical distributions and symmetric", () => {
    const a = [0.1, 0.2, 0.3, 0.4];
    const b = [0.4, 0.3, 0.2, 0.1];
    expect(psi(a, a)).toBe(0);
    expect(psi(a, b)).toBeCloseTo(psi(b, a), 14);
  });

  it("replaces an empty bin's share with the documented epsilon", () => {
    const value = psi([0.5, 0.5, 0], [0.4, 0.4, 0.2]);
    const expected = -0.1 * Math.log(0.8) * 2 + (0.2 - PSI_EPSILON) * Math.log(0.2 / PSI_EPSILON);
    expect(value).toBeCloseTo(expected, 12);
    // Bins empty on both sides add nothing.
    expect(psi([0.5, 0.5, 0], [0.5, 0.5, 0])).toBe(0);
  });

  it("levels at the app's thresholds", () => {
    const t = { psiWarn: 0.1, psiAlert: 0.25 };
    expect(psiLevel(0.05, t)).toBe("ok");
    expect(psiLevel(0.1, t)).toBe("warn");
    expect(psiLevel(0.25, t)).toBe("alert");
  });

  it("refuses bins of different lengths", () => {
    expect(() => psi([1], [0.5, 0.5])).toThrow(RangeError);
  });
});
