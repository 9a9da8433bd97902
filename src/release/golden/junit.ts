/**
 * JUnit XML, the one test report every CI system reads (Jenkins, GitLab, GitHub Actions,
 * Azure, CircleCI): `ballast test` writes its golden and contract runs in it so a pipeline
 * shows failed cases without knowing anything about Ballast. Ant/Jenkins dialect.
 */

/** One test case. At most one of error, failure and skipped is written: error wins, then failure. */
export interface JUnitCase {
  readonly name: string;
  readonly classname: string;
  readonly timeMs: number;
  /** The case ran and its check did not hold (a golden mismatch, a contract answer refused). */
  readonly failure?: { readonly message: string; readonly details: string };
  /** The case could not be judged (a timeout, a 5xx, a network error). */
  readonly error?: { readonly message: string; readonly details: string };
  /** Why the case was not run. */
  readonly skipped?: string;
}

export interface JUnitSuite {
  readonly name: string;
  /** ISO-8601, when the suite started. */
  readonly timestamp: string;
  readonly cases: readonly JUnitCase[];
  /** Written as `<properties>`: e.g. the app, its version, the URL tested. */
  readonly properties?: Readonly<Record<string, string>>;
}

// Characters XML 1.0 cannot carry at all, even as references: C0 controls but tab, LF and CR;
// lone surrogates; U+FFFE and U+FFFF. The `u` flag makes a lone surrogate one code point.
const ILLEGAL = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const TEXT_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  // A parser turns a raw CR (or CRLF) into LF; a reference keeps it.
  "\r": "&#13;",
};

const ATTRIBUTE_ESCAPES: Readonly<Record<string, string>> = {
  ...TEXT_ESCAPES,
  // A parser turns raw whitespace in an attribute into spaces; references keep a message's lines.
  "\n": "&#10;",
  "\t": "&#9;",
};

function escapeText(s: string): string {
  return s.replace(ILLEGAL, "").replace(/[&<>"'\r]/g, (c) => TEXT_ESCAPES[c] ?? c);
}

function escapeAttribute(s: string): string {
  return s.replace(ILLEGAL, "").replace(/[&<>"'\r\n\t]/g, (c) => ATTRIBUTE_ESCAPES[c] ?? c);
}

/** Seconds with 3 decimals; a negative or non-finite duration (a clock step) counts as 0. */
function seconds(ms: number): string {
  return (Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0).toFixed(3);
}

function attributes(pairs: readonly (readonly [string, string | number])[]): string {
  return pairs.map(([k, v]) => ` ${k}="${escapeAttribute(String(v))}"`).join("");
}

type Outcome = "error" | "failure" | "skipped" | "passed";

function outcomeOf(c: JUnitCase): Outcome {
  if (c.error) return "error";
  if (c.failure) return "failure";
  if (c.skipped !== undefined) return "skipped";
  return "passed";
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  ms: number;
}

function countsOf(cases: readonly JUnitCase[]): Counts {
  const counts: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0, ms: 0 };
  for (const c of cases) {
    counts.tests++;
    const outcome = outcomeOf(c);
    if (outcome === "error") counts.errors++;
    else if (outcome === "failure") counts.failures++;
    else if (outcome === "skipped") counts.skipped++;
    if (Number.isFinite(c.timeMs) && c.timeMs > 0) counts.ms += c.timeMs;
  }
  return counts;
}

function countAttributes(c: Counts): (readonly [string, string | number])[] {
  return [
    ["tests", c.tests],
    ["failures", c.failures],
    ["errors", c.errors],
    ["skipped", c.skipped],
    ["time", seconds(c.ms)],
  ];
}

function caseXml(c: JUnitCase): string {
  const head = `    <testcase${attributes([
    ["name", c.name],
    ["classname", c.classname],
    ["time", seconds(c.timeMs)],
  ])}`;
  const outcome = outcomeOf(c);
  if (outcome === "passed") return `${head}/>`;
  if (outcome === "skipped") {
    return `${head}>\n      <skipped${attributes([["message", c.skipped ?? ""]])}/>\n    </testcase>`;
  }
  const problem = outcome === "error" ? c.error : c.failure;
  const type = outcome === "error" ? "Error" : "AssertionError";
  const open = `<${outcome}${attributes([
    ["message", problem?.message ?? ""],
    ["type", type],
  ])}>`;
  return `${head}>\n      ${open}${escapeText(problem?.details ?? "")}</${outcome}>\n    </testcase>`;
}

function suiteXml(suite: JUnitSuite): string {
  const counts = countsOf(suite.cases);
  const lines = [
    `  <testsuite${attributes([
      ["name", suite.name],
      ...countAttributes(counts),
      ["timestamp", suite.timestamp],
    ])}>`,
  ];
  const props = Object.entries(suite.properties ?? {});
  if (props.length > 0) {
    lines.push("    <properties>");
    for (const [name, value] of props) {
      lines.push(
        `      <property${attributes([
          ["name", name],
          ["value", value],
        ])}/>`,
      );
    }
    lines.push("    </properties>");
  }
  for (const c of suite.cases) lines.push(caseXml(c));
  lines.push("  </testsuite>");
  return lines.join("\n");
}

/**
 * The report for a run of suites. Totals and times are computed from the cases, so they cannot
 * disagree with them; any string is escaped and characters XML cannot hold are dropped, so a
 * model's odd output never makes the report unreadable to the CI that needs it most then.
 */
export function junitXml(suites: readonly JUnitSuite[]): string {
  const total: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0, ms: 0 };
  for (const suite of suites) {
    const c = countsOf(suite.cases);
    total.tests += c.tests;
    total.failures += c.failures;
    total.errors += c.errors;
    total.skipped += c.skipped;
    total.ms += c.ms;
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes(countAttributes(total))}>`,
    ...suites.map(suiteXml),
    "</testsuites>",
    "",
  ].join("\n");
}
