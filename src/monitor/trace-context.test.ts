import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatTraceparent,
  newSpanId,
  newTraceId,
  outgoingTraceparent,
  parseTraceparent,
  traceContextFrom,
} from "./trace-context.ts";

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const traceId = hex(32).filter((s) => !/^0+$/.test(s));
const spanId = hex(16).filter((s) => !/^0+$/.test(s));

describe("traceparent", () => {
  it("round-trips every valid id pair and flag", () => {
    fc.assert(
      fc.property(traceId, spanId, fc.boolean(), (t, s, sampled) => {
        const header = formatTraceparent(t, s, sampled);
        expect(header).toHaveLength(55);
        expect(parseTraceparent(header)).toEqual({ traceId: t, parentId: s, sampled });
      }),
    );
  });

  it("reads only bit 0 of the flags, and accepts later versions' extra fields", () => {
    const t = "4bf92f3577b34da6a3ce929d0e0e4736";
    const s = "00f067aa0ba902b7";
    expect(parseTraceparent(`00-${t}-${s}-03`)?.sampled).toBe(true);
    expect(parseTraceparent(`00-${t}-${s}-02`)?.sampled).toBe(false);
    expect(parseTraceparent(`01-${t}-${s}-01-extra`)).toEqual({
      traceId: t,
      parentId: s,
      sampled: true,
    });
  });

  it("refuses what the spec calls invalid", () => {
    const t = "4bf92f3577b34da6a3ce929d0e0e4736";
    const s = "00f067aa0ba902b7";
    const invalid = [
      undefined,
      "",
      42,
      ["00", t],
      `00-${t.toUpperCase()}-${s}-01`,
      `00-${"0".repeat(32)}-${s}-01`,
      `00-${t}-${"0".repeat(16)}-01`,
      `ff-${t}-${s}-01`,
      `00-${t}-${s}-01-extra`,
      `00-${t}-${s}-1`,
      `00-${t.slice(1)}-${s}-01`,
      `0-${t}-${s}-01`,
      ` 00-${t}-${s}-01`,
      `01-${t}-${s}-01extra`,
    ];
    for (const value of invalid) expect(parseTraceparent(value)).toBeUndefined();
  });

  it("never throws on junk, and what it accepts is well formed", () => {
    const junk = fc.oneof(
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.tuple(hex(2), fc.string(), fc.string(), fc.string()).map((parts) => parts.join("-")),
      fc.anything(),
    );
    fc.assert(
      fc.property(junk, (value) => {
        const parsed = parseTraceparent(value);
        if (parsed) {
          expect(parsed.traceId).toMatch(/^[0-9a-f]{32}$/);
          expect(parsed.parentId).toMatch(/^[0-9a-f]{16}$/);
        }
      }),
    );
  });
});

describe("trace contexts", () => {
  it("continues a valid incoming trace with a new span of its own", () => {
    fc.assert(
      fc.property(traceId, spanId, fc.boolean(), (t, s, sampled) => {
        const ctx = traceContextFrom({
          traceparent: formatTraceparent(t, s, sampled),
          tracestate: "vendor=x",
        });
        expect(ctx.traceId).toBe(t);
        expect(ctx.parentSpanId).toBe(s);
        expect(ctx.spanId).not.toBe(s);
        expect(ctx.spanId).toMatch(/^[0-9a-f]{16}$/);
        expect(ctx.sampled).toBe(sampled);
        expect(ctx.traceState).toBe("vendor=x");
      }),
    );
  });

  it("starts a new trace when the header is missing or invalid", () => {
    for (const traceparent of [undefined, "garbage", `00-${"0".repeat(32)}-${"1".repeat(16)}-01`]) {
      const ctx = traceContextFrom({ traceparent, tracestate: "vendor=x" });
      expect(ctx.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(ctx.parentSpanId).toBeUndefined();
      expect(ctx.traceState).toBeUndefined();
      expect(ctx.sampled).toBe(false);
    }
  });

  it("draws distinct random ids across pool refills", () => {
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      traces.add(newTraceId());
      spans.add(newSpanId());
    }
    expect(traces.size).toBe(3000);
    expect(spans.size).toBe(3000);
    for (const id of traces)
      expect(parseTraceparent(formatTraceparent(id, newSpanId(), true))).toBeDefined();
  });

  it("sends the request's trace id with a fresh span id when no step span exists", () => {
    const ctx = traceContextFrom({});
    const a = parseTraceparent(outgoingTraceparent(ctx, undefined));
    const b = parseTraceparent(outgoingTraceparent(ctx, undefined));
    expect(a?.traceId).toBe(ctx.traceId);
    expect(b?.traceId).toBe(ctx.traceId);
    expect(a?.parentId).not.toBe(b?.parentId);
    expect(a?.parentId).not.toBe(ctx.spanId);
    expect(outgoingTraceparent(undefined, undefined)).toBeUndefined();
    const span = { traceparent: "x", fail() {}, end() {} };
    expect(outgoingTraceparent(ctx, span)).toBe("x");
  });
});
