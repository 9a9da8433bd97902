import { describe, expect, it } from "vitest";
import { RuntimeCounters } from "./runtime-counters.ts";

describe("RuntimeCounters", () => {
  it("counts per app and keeps apps apart", () => {
    const c = new RuntimeCounters();
    c.count("ws", "a", "rate_limited");
    c.count("ws", "a", "rate_limited");
    c.count("ws", "a", "fallback:circuit_open", 3);
    c.count("ws", "b", "overloaded");
    expect(c.of("ws", "a")).toEqual({ rate_limited: 2, "fallback:circuit_open": 3 });
    expect(c.of("ws", "b")).toEqual({ overloaded: 1 });
    expect(c.of("other", "a")).toEqual({});
    expect(c.all()).toEqual([
      { workspaceId: "ws", app: "a", counters: { rate_limited: 2, "fallback:circuit_open": 3 } },
      { workspaceId: "ws", app: "b", counters: { overloaded: 1 } },
    ]);
  });
});
