import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAppSpec } from "./app-spec.ts";
import { isHttpUrl } from "./http-url.ts";
import { DEFAULT_POLICIES, fillPolicies, POLICY_GROUPS, policiesJsonSchema } from "./policies.ts";
import { specAjv } from "./spec-problems.ts";
import { defaultsOf } from "./steps/step-kind.ts";
import {
  DEFAULT_WEBHOOK,
  fillWebhook,
  webhookJsonSchema,
  webhookSettingsSchema,
} from "./webhook.ts";

const head = { apiVersion: "ballast/v1", kind: "App", name: "a", model: { name: "m", version: 1 } };
const strictAjv = () =>
  new Ajv2020({ strict: true, allowUnionTypes: true, formats: { uri: true } });

describe("the policies' schema", () => {
  it("documents every group and field: a title, a description and the default", () => {
    expect(POLICY_GROUPS.map((g) => g.key)).toEqual(Object.keys(DEFAULT_POLICIES));
    for (const group of POLICY_GROUPS) {
      expect(group.title.length).toBeGreaterThan(0);
      expect(group.description).toMatch(/\.$/);
      // Fields in the order of the defaults (the order the runtime and the YAML show).
      expect(Object.keys(group.schema.properties)).toEqual(
        Object.keys(DEFAULT_POLICIES[group.key]),
      );
      expect(defaultsOf(group.schema)).toEqual(DEFAULT_POLICIES[group.key]);
      for (const [key, field] of Object.entries(group.schema.properties)) {
        expect(typeof field.title, `${group.key}.${key}`).toBe("string");
        expect(field.description, `${group.key}.${key}`).toMatch(/\.$/);
        expect(field.type === "integer" || field.type === "boolean").toBe(true);
      }
      // The group compiles strictly and its defaults satisfy it.
      expect(strictAjv().compile(group.schema)(DEFAULT_POLICIES[group.key])).toBe(true);
    }
    const published = policiesJsonSchema.properties as Record<string, Record<string, unknown>>;
    expect(published.cache?.default).toEqual(DEFAULT_POLICIES.cache);
    expect(specAjv.compile(policiesJsonSchema)(DEFAULT_POLICIES)).toBe(true);
  });

  it("documents the webhook's fields, and its defaults satisfy it", () => {
    for (const [key, field] of Object.entries(webhookSettingsSchema.properties)) {
      expect(typeof field.title, key).toBe("string");
      expect(field.description, key).toMatch(/\.$/);
      if (key !== "callbackUrl")
        expect(field.default, key).toEqual(DEFAULT_WEBHOOK[key as "enabled"]);
    }
    expect(defaultsOf(webhookSettingsSchema)).toEqual(DEFAULT_WEBHOOK);
    expect(strictAjv().compile(webhookJsonSchema)(DEFAULT_WEBHOOK)).toBe(true);
  });
});

describe("filling in defaults", () => {
  const policyField = fc.constantFrom(
    ...POLICY_GROUPS.flatMap((g) =>
      Object.entries(g.schema.properties).map(([key, schema]) => ({ group: g.key, key, schema })),
    ),
  );

  it("keeps every valid policy a spec gives and fills the rest with defaults", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(policyField, { selector: (f) => `${f.group}.${f.key}` }),
        fc.nat(),
        (fields, seed) => {
          const given: Record<string, Record<string, unknown>> = {};
          for (const [i, f] of fields.entries()) {
            const value =
              f.schema.type === "boolean"
                ? (seed + i) % 2 === 0
                : Number(f.schema.minimum) + ((seed + i) % 5);
            given[f.group] = { ...given[f.group], [f.key]: value };
          }
          const spec = parseAppSpec({ ...head, policies: given });
          for (const group of POLICY_GROUPS) {
            expect(spec.policies[group.key]).toEqual({
              ...DEFAULT_POLICIES[group.key],
              ...given[group.key],
            });
          }
        },
      ),
      { numRuns: 300, seed: 3 },
    );
  });

  it("answers anything with complete, well-typed policies and webhook, never throwing", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (policies, webhook) => {
        const p = fillPolicies(policies);
        for (const group of POLICY_GROUPS) {
          const filled = new Map(Object.entries(p[group.key]));
          for (const [key, value] of Object.entries(DEFAULT_POLICIES[group.key])) {
            expect(typeof filled.get(key)).toBe(typeof value);
          }
        }
        const w = fillWebhook(webhook);
        expect(typeof w.enabled).toBe("boolean");
        expect(typeof w.maxAttempts).toBe("number");
        for (const to of Object.values(w.rename)) expect(typeof to).toBe("string");
      }),
      { numRuns: 500, seed: 4 },
    );
    expect(fillPolicies(undefined)).toEqual(DEFAULT_POLICIES);
    expect(fillWebhook(null)).toEqual(DEFAULT_WEBHOOK);
  });
});

describe("http URLs", () => {
  const validate = specAjv.compile(webhookJsonSchema);

  it("accepts http and https URLs with a host, and nothing else", () => {
    for (const url of [
      "http://127.0.0.1:8080/score",
      "https://hooks.example.com/a?b=c#d",
      "https://[::1]:8443/",
      "http://localhost",
    ]) {
      expect(isHttpUrl(url), url).toBe(true);
      expect(validate({ callbackUrl: url }), url).toBe(true);
    }
    for (const url of [
      "",
      "ftp://example.com/",
      "example.com",
      "http://",
      "http:///path",
      "https://exa mple.com",
      "javascript:alert(1)",
      "HTTP://x",
      `https://x/${"a".repeat(2048)}`,
    ]) {
      expect(isHttpUrl(url), url).toBe(false);
      expect(validate({ callbackUrl: url }), url).toBe(false);
    }
  });

  it("agrees with the published schema on any text", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.webUrl(),
          fc.string(),
          fc.string().map((s) => `http://${s}`),
        ),
        (url) => {
          expect(validate({ callbackUrl: url })).toBe(isHttpUrl(url));
        },
      ),
      { numRuns: 1000, seed: 5 },
    );
  });
});

describe("webhook maps", () => {
  it("keeps a field named like an object's own members as a field", () => {
    const given = JSON.parse(
      '{"rename": {"__proto__": "tenure", "constructor": "x"}, "defaults": {"__proto__": 1}}',
    );
    const spec = parseAppSpec({ ...head, webhook: given });
    expect(Object.entries(spec.webhook.rename)).toEqual([
      ["__proto__", "tenure"],
      ["constructor", "x"],
    ]);
    expect(Object.entries(spec.webhook.defaults)).toEqual([["__proto__", 1]]);
    expect(Object.getPrototypeOf(spec.webhook.rename)).toBe(Object.prototype);
  });
});
