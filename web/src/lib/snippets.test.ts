/// <reference types="node" />
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { curlSnippet, fetchSnippet, pythonLiteral, pythonSnippet } from "./snippets.ts";

const input = {
  url: "http://127.0.0.1:7070/v1/apps/churn/predict",
  record: { tenure: 3, contract: "Month-to-month", note: "it's", partner: true, x: null },
};

describe("snippets", () => {
  it("curl: a shell word per argument, even with quotes in the data", () => {
    const text = curlSnippet({ ...input, key: "blst_abc" });
    // Let a real shell split it: the -d argument must come back as the exact JSON.
    const args = execFileSync("bash", ["-c", `set -- ${text.slice(5)}; printf '%s\\n' "$@"`], {
      encoding: "utf8",
    }).split("\n");
    expect(args).toContain("Authorization: Bearer blst_abc");
    expect(JSON.parse(args[args.indexOf("-d") + 1] ?? "")).toEqual(input.record);
  });

  it("fetch: valid JavaScript that sends the record", () => {
    const text = fetchSnippet(input);
    expect(text).toContain("Bearer YOUR_API_KEY");
    const body = /JSON\.stringify\(([\s\S]*?)\),\n\}\);/.exec(text)?.[1] ?? "";
    expect(JSON.parse(body)).toEqual(input.record);
    // It parses as an async function body.
    expect(() => new Function(`return (async () => {${text}})`)).not.toThrow();
  });

  it("python: True/False/None literals", () => {
    expect(pythonLiteral({ a: true, b: false, c: null, d: [1, "x"] })).toBe(
      '{\n    "a": True,\n    "b": False,\n    "c": None,\n    "d": [\n        1,\n        "x",\n    ],\n}',
    );
    const text = pythonSnippet({ ...input, key: "k" });
    expect(text).toContain('"Authorization": "Bearer k"');
    expect(text).toContain('"partner": True');
    expect(text).toContain('"x": None');
    // Python itself accepts it.
    execFileSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], {
      input: text,
    });
  });
});
