import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pointerSegment } from "../spec/spec-problems.ts";
import { bodyError } from "./json-body.ts";

describe("bodyError", () => {
  it("answers any text that is not JSON with a 400 that says why (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        fc.pre(text.length > 0 && !isJson(text));
        const error = bodyError(text);
        expect(error.statusCode).toBe(400);
        expect(error.code).toBe("invalid_json");
        expect(error.details).toHaveLength(1);
        expect(error.details[0]?.path).toBe("body");
        // V8 gives a position for most errors ("line 1, column 3: …"), not for all.
        expect(error.details[0]?.message).toMatch(/\S/);
      }),
    );
  });

  it("points at the field that would change a prototype, wherever it is (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 8 }),
        fc.jsonValue({ maxDepth: 1 }),
        fc.boolean(),
        (key, value, viaConstructor) => {
          fc.pre(key !== "__proto__" && key !== "constructor");
          const inner = viaConstructor
            ? `{"constructor": {"prototype": ${JSON.stringify(value)}}}`
            : `{"__proto__": ${JSON.stringify(value)}}`;
          const text = `{"ok": 1, ${JSON.stringify(key)}: [1, ${inner}]}`;
          const error = bodyError(text);
          const at = `/${pointerSegment(key)}/1/${viaConstructor ? "constructor/prototype" : "__proto__"}`;
          expect(error.details).toEqual([{ path: at, message: expect.any(String) }]);
        },
      ),
    );
  });

  it("gives the line and column where V8 gives a position, the end of input at the end", () => {
    const text = '{\n  "a": 1,\n  oops\n}';
    expect(bodyError(text).details[0]?.message).toMatch(/^line 3, column 3: /);
    expect(bodyError('{"a": [1, 2').details[0]?.message).toMatch(/^line 1, column 12: /);
  });

  it("says an empty body is empty", () => {
    expect(bodyError("").details).toEqual([{ path: "body", message: "is empty" }]);
  });
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
