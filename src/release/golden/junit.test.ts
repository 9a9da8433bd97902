import fc from "fast-check";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { type JUnitCase, type JUnitSuite, junitXml } from "./junit.ts";

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  textNodeName: "#text",
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  // Numeric character references (&#10;) are standard XML; this parser decodes them only here.
  htmlEntities: true,
  isArray: (name) => ["testsuite", "testcase", "property"].includes(name),
});

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function child(node: unknown, name: string): Node {
  if (!isNode(node)) throw new Error(`not an element where ${name} was looked for`);
  const v = node[name];
  if (!isNode(v)) throw new Error(`no single <${name}>`);
  return v;
}

function children(node: unknown, name: string): Node[] {
  if (!isNode(node)) throw new Error(`not an element where ${name} was looked for`);
  const v = node[name];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Error(`<${name}> is not a list`);
  return v.filter(isNode);
}

function parse(xml: string): Node {
  expect(XMLValidator.validate(xml)).toBe(true);
  return child(parser.parse(xml), "testsuites");
}

/** What XML 1.0 can hold, written from the spec's Char production, code point by code point. */
function xmlChars(s: string): string {
  return Array.from(s)
    .filter((ch) => {
      const cp = ch.codePointAt(0) ?? 0;
      return (
        cp === 0x9 ||
        cp === 0xa ||
        cp === 0xd ||
        (cp >= 0x20 && cp <= 0xd7ff) ||
        (cp >= 0xe000 && cp <= 0xfffd) ||
        cp >= 0x10000
      );
    })
    .join("");
}

const suites: JUnitSuite[] = [
  {
    name: "churn golden",
    timestamp: "2026-11-22T13:00:00Z",
    properties: { app: "churn", version: "3" },
    cases: [
      { name: "case 1", classname: "churn.golden", timeMs: 250 },
      {
        name: "case 2",
        classname: "churn.golden",
        timeMs: 1250,
        failure: {
          message: "prediction: expected 42.5 ±2.125, got 47.1",
          details: "prediction: expected 42.5 ±2.125, got 47.1\nprobabilities.yes: expected 0.81",
        },
      },
      {
        name: "case 3",
        classname: "churn.golden",
        timeMs: 30_000,
        error: { message: "deadline exceeded", details: "504 after 30 s" },
      },
      { name: "case 4", classname: "churn.golden", timeMs: 0, skipped: "no answer expected" },
    ],
  },
  {
    name: "churn contract",
    timestamp: "2026-11-22T13:00:31Z",
    cases: [{ name: "missing tenure_months", classname: "churn.contract", timeMs: 0.4 }],
  },
];

describe("junitXml", () => {
  it("writes the Ant/Jenkins structure with totals that agree with the cases", () => {
    const root = parse(junitXml(suites));
    expect(root).toMatchObject({
      tests: "5",
      failures: "1",
      errors: "1",
      skipped: "1",
      time: "31.500",
    });
    const [golden, contract] = children(root, "testsuite");
    expect(golden).toMatchObject({
      name: "churn golden",
      tests: "4",
      failures: "1",
      errors: "1",
      skipped: "1",
      time: "31.500",
      timestamp: "2026-11-22T13:00:00Z",
    });
    expect(contract).toMatchObject({ name: "churn contract", tests: "1", failures: "0" });
    expect(contract?.time).toBe("0.000");
    expect(contract?.properties).toBeUndefined();
  });

  it("writes each case with its outcome element", () => {
    const root = parse(junitXml(suites));
    const golden = children(root, "testsuite")[0];
    const [passed, failed, errored, skipped] = children(golden, "testcase");
    expect(passed).toEqual({ name: "case 1", classname: "churn.golden", time: "0.250" });
    expect(child(failed, "failure")).toEqual({
      message: "prediction: expected 42.5 ±2.125, got 47.1",
      type: "AssertionError",
      "#text": "prediction: expected 42.5 ±2.125, got 47.1\nprobabilities.yes: expected 0.81",
    });
    expect(failed?.time).toBe("1.250");
    expect(child(errored, "error")).toMatchObject({ message: "deadline exceeded", type: "Error" });
    expect(child(errored, "error")["#text"]).toBe("504 after 30 s");
    expect(child(skipped, "skipped")).toEqual({ message: "no answer expected" });
    const props = children(child(golden, "properties"), "property");
    expect(props).toEqual([
      { name: "app", value: "churn" },
      { name: "version", value: "3" },
    ]);
  });

  it("writes one outcome per case, error before failure, counted once", () => {
    const both: JUnitCase = {
      name: "x",
      classname: "c",
      timeMs: 1,
      failure: { message: "f", details: "" },
      error: { message: "e", details: "" },
      skipped: "s",
    };
    const root = parse(junitXml([{ name: "s", timestamp: "t", cases: [both] }]));
    expect(root).toMatchObject({ tests: "1", failures: "0", errors: "1", skipped: "0" });
    const tc = children(children(root, "testsuite")[0], "testcase")[0];
    expect(child(tc, "error").message).toBe("e");
    expect(tc?.failure).toBeUndefined();
    expect(tc?.skipped).toBeUndefined();
  });

  it("counts a negative or non-finite duration as zero", () => {
    const cases: JUnitCase[] = [
      { name: "a", classname: "c", timeMs: -5 },
      { name: "b", classname: "c", timeMs: Number.NaN },
      { name: "c", classname: "c", timeMs: 1000 },
    ];
    const root = parse(junitXml([{ name: "s", timestamp: "t", cases }]));
    expect(root.time).toBe("1.000");
    const times = children(children(root, "testsuite")[0], "testcase").map((c) => c.time);
    expect(times).toEqual(["0.000", "0.000", "1.000"]);
  });

  it("writes an empty report that CI can still read", () => {
    const root = parse(junitXml([]));
    expect(root).toMatchObject({ tests: "0", failures: "0", errors: "0", time: "0.000" });
  });

  it("escapes markup and drops characters XML 1.0 cannot hold", () => {
    const nasty = `a & b < c > d "e" 'f' ]]> \u0000\u0008\u000b\u001f\uffff\ud800 g\r\nh\ti`;
    const xml = junitXml([
      {
        name: nasty,
        timestamp: "t",
        cases: [
          { name: nasty, classname: nasty, timeMs: 1, failure: { message: nasty, details: nasty } },
        ],
      },
    ]);
    // Nothing outside XML's characters is left in the text itself.
    expect(xml).toBe(xmlChars(xml));
    const expected = `a & b < c > d "e" 'f' ]]>  g\r\nh\ti`;
    const tc = children(children(parse(xml), "testsuite")[0], "testcase")[0];
    expect(tc?.name).toBe(expected);
    expect(child(tc, "failure").message).toBe(expected);
    expect(child(tc, "failure")["#text"]).toBe(expected);
  });

  it("writes no raw tab or line break inside an attribute", () => {
    // XML's attribute-value normalization turns those into spaces in a conforming parser (this
    // test's parser skips that step), so a two-line message must travel as references.
    const xml = junitXml([
      {
        name: "s\tt",
        timestamp: "t",
        cases: [
          {
            name: "a\r\nb",
            classname: "c",
            timeMs: 1,
            failure: { message: "line 1\nline 2", details: "x" },
          },
        ],
      },
    ]);
    const values = [...xml.matchAll(/="([^"]*)"/g)].map((m) => m[1] ?? "");
    expect(values.length).toBeGreaterThan(5);
    for (const v of values) expect(v).not.toMatch(/[\t\n\r]/);
  });

  it("keeps any string through escape and parse, minus the characters XML cannot hold", () => {
    // Any UTF-16 unit, lone surrogates and C0 controls included.
    const anyUnits = fc.string({
      unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
    });
    const anyText = fc.oneof(anyUnits, fc.string({ unit: "binary" }), fc.string());
    fc.assert(
      fc.property(
        anyText,
        anyText,
        anyText,
        anyText,
        anyText,
        anyText,
        (name, classname, message, details, skipped, value) => {
          const xml = junitXml([
            {
              name,
              timestamp: "2026-01-01T00:00:00Z",
              properties: { p: value },
              cases: [
                { name, classname, timeMs: 1, failure: { message, details } },
                { name: "s", classname, timeMs: 1, skipped },
              ],
            },
          ]);
          const suite = children(parse(xml), "testsuite")[0];
          expect(suite?.name).toBe(xmlChars(name));
          const [failed, skippedCase] = children(suite, "testcase");
          expect(failed?.name).toBe(xmlChars(name));
          expect(failed?.classname).toBe(xmlChars(classname));
          expect(child(failed, "failure").message).toBe(xmlChars(message));
          expect(child(failed, "failure")["#text"] ?? "").toBe(xmlChars(details));
          expect(child(skippedCase, "skipped").message).toBe(xmlChars(skipped));
          const props = children(child(suite, "properties"), "property");
          expect(props[0]?.value).toBe(xmlChars(value));
        },
      ),
      { numRuns: 200 },
    );
  });
});
