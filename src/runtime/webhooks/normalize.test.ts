import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ContractField, normalizePayload, type WebhookMapping } from "./normalize.ts";

const FIELDS: readonly ContractField[] = [
  { column: "tenure", kind: "number", nullable: false },
  { column: "total", kind: "number", nullable: true },
  { column: "senior", kind: "boolean", nullable: false },
  { column: "paperless", kind: "boolean", nullable: true, labels: ["No", "Yes"] },
  { column: "contract", kind: "category", nullable: false },
  { column: "signup", kind: "datetime", nullable: true },
];
const NONE: WebhookMapping = { rename: {}, defaults: {}, coerceTypes: false };
const COERCE: WebhookMapping = { rename: {}, defaults: {}, coerceTypes: true };

describe("normalizePayload", () => {
  it("renames, fills defaults and coerces, as the app's mapping says", () => {
    const body = {
      months: "12",
      senior: "TRUE",
      paperless: "yes",
      contract: 2,
      total: " ",
      signup: 1700000000,
      extra: "kept for validation to name",
    };
    const mapping: WebhookMapping = {
      rename: { months: "tenure" },
      defaults: { contract: "Month-to-month", phone: "No" },
      coerceTypes: true,
    };
    expect(normalizePayload(body, mapping, FIELDS)).toEqual({
      tenure: 12,
      senior: true,
      paperless: "Yes",
      contract: "2",
      total: null,
      signup: 1700000000,
      extra: "kept for validation to name",
      phone: "No",
    });
  });

  it("leaves what is not unambiguous as sent", () => {
    const out = normalizePayload(
      { tenure: "12 months", senior: "maybe", total: "0x10", contract: null },
      COERCE,
      FIELDS,
    );
    expect(out).toEqual({ tenure: "12 months", senior: "maybe", total: "0x10", contract: null });
    // An empty string is null only where the field may be null.
    expect(normalizePayload({ tenure: "", senior: "" }, COERCE, FIELDS)).toEqual({
      tenure: "",
      senior: "",
    });
    expect(normalizePayload({ tenure: "Infinity", total: "1e999" }, COERCE, FIELDS)).toEqual({
      tenure: "Infinity",
      total: "1e999",
    });
  });

  it("prefers a renamed field over one already named like its target; the first rename wins", () => {
    const mapping: WebhookMapping = {
      rename: { a: "tenure", b: "tenure" },
      defaults: {},
      coerceTypes: false,
    };
    expect(normalizePayload({ tenure: 1, a: 2, b: 3 }, mapping, FIELDS)).toEqual({ tenure: 2 });
    expect(normalizePayload({ tenure: 1, b: 3 }, mapping, FIELDS)).toEqual({ tenure: 3 });
    expect(normalizePayload({ tenure: 1 }, mapping, FIELDS)).toEqual({ tenure: 1 });
  });

  it("does not chain renames, and keeps a null that was sent instead of the default", () => {
    const mapping: WebhookMapping = {
      rename: { a: "b", b: "c" },
      defaults: { total: 5 },
      coerceTypes: false,
    };
    expect(normalizePayload({ a: 1, b: 2, total: null }, mapping, FIELDS)).toEqual({
      b: 1,
      c: 2,
      total: null,
    });
  });

  it("keeps a field named __proto__ a plain field", () => {
    const body = JSON.parse('{"__proto__": {"polluted": true}, "tenure": "3"}') as Record<
      string,
      unknown
    >;
    const out = normalizePayload(body, COERCE, FIELDS);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out).sort()).toEqual(["__proto__", "tenure"]);
    expect(out.tenure).toBe(3);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

const jsonValue = fc.jsonValue({ maxDepth: 2 });
const body = fc.dictionary(
  fc.oneof(fc.constantFrom(...FIELDS.map((f) => f.column)), fc.string({ maxLength: 6 })),
  jsonValue,
  { maxKeys: 8 },
);
const fieldName = fc.oneof(
  fc.constantFrom(...FIELDS.map((f) => f.column)),
  fc.string({ minLength: 1, maxLength: 4 }),
);
const mapping: fc.Arbitrary<WebhookMapping> = fc.record({
  rename: fc.dictionary(fieldName, fieldName, { maxKeys: 4 }),
  defaults: fc.dictionary(
    fieldName,
    fc.oneof(
      fc.string({ maxLength: 5 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    ),
    { maxKeys: 4 },
  ),
  coerceTypes: fc.boolean(),
});

describe("normalizePayload properties", () => {
  it("never throws, never mutates its input, and returns a plain object", () => {
    fc.assert(
      fc.property(body, mapping, (b, m) => {
        const before = structuredClone(b);
        const out = normalizePayload(b, m, FIELDS);
        expect(b).toEqual(before);
        expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      }),
    );
  });

  it("is the identity with an empty mapping and no coercion", () => {
    fc.assert(
      fc.property(body, (b) => {
        expect(normalizePayload(b, NONE, FIELDS)).toEqual(b);
      }),
    );
  });

  it("every default is present afterwards, and never replaces a value that was there", () => {
    fc.assert(
      fc.property(body, mapping, (b, m) => {
        const plain = { ...m, rename: {}, coerceTypes: false };
        const out = normalizePayload(b, plain, FIELDS);
        for (const [field, value] of Object.entries(m.defaults)) {
          expect(Object.hasOwn(out, field)).toBe(true);
          expect(out[field]).toEqual(Object.hasOwn(b, field) ? b[field] : value);
        }
      }),
    );
  });

  it("a renamed field's value arrives under its target, and the source name is gone", () => {
    fc.assert(
      fc.property(body, mapping, (b, m) => {
        const out = normalizePayload(b, { ...m, defaults: {}, coerceTypes: false }, FIELDS);
        const targets = new Set<string>();
        for (const [from, to] of Object.entries(m.rename)) {
          if (from === to) continue;
          if (!targets.has(to) && Object.hasOwn(b, from)) {
            expect(out[to]).toEqual(b[from]);
            targets.add(to);
          }
          if (!Object.values(m.rename).includes(from)) expect(Object.hasOwn(out, from)).toBe(false);
        }
      }),
    );
  });

  it("reads any finite number written as text back as that number", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), (n, pad) => {
        const text = pad ? `  ${String(n)} ` : String(n);
        const out = normalizePayload({ tenure: text, total: text }, COERCE, FIELDS);
        // (=== so that "0", written for -0, reads as the same number)
        expect(out.tenure === n).toBe(true);
        expect(out.total === n).toBe(true);
      }),
    );
  });

  it("coercion is idempotent: normalizing a normalized record changes nothing", () => {
    fc.assert(
      fc.property(body, (b) => {
        const once = normalizePayload(b, COERCE, FIELDS);
        expect(normalizePayload(once, COERCE, FIELDS)).toEqual(once);
      }),
    );
  });
});
