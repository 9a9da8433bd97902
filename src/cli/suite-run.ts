/**
 * `ballast test`: an app's golden suite and its contract tests, as a CI job runs them.
 *
 * - With `--version V`, the server runs the golden suite on that version (loaded apart from
 *   every environment) and records the run, as promotion does.
 * - Otherwise the cases run from here against the running deployment (production, or staging
 *   with `--environment staging`) over HTTP, exactly as a caller sends them; the contract tests
 *   generated from the app's OpenAPI schema run the same way: valid examples must be answered,
 *   invalid ones refused with a 4xx (never a 5xx).
 *
 * Either way the result is a console summary and, with `--junit FILE`, JUnit XML.
 */
import { type ContractCase, contractCases } from "../release/contract/contract-cases.ts";
import { matchAnswer, parseGoldenMatch } from "../release/golden/golden-match.ts";
import { type JUnitCase, type JUnitSuite, junitXml } from "../release/golden/junit.ts";
import type { GoldenCaseDto, GoldenRunDto } from "../server/release-api-types.ts";

export interface SuiteTarget {
  readonly baseUrl: string;
  readonly apiKey?: string | undefined;
  readonly app: string;
  readonly environment: "production" | "staging";
}

export interface SuiteReport {
  readonly suites: readonly JUnitSuite[];
  readonly passed: number;
  readonly failed: number;
}

const headers = (apiKey: string | undefined, json = false): Record<string, string> => ({
  ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
  ...(json ? { "content-type": "application/json" } : {}),
});

async function getJson<T>(url: string, apiKey: string | undefined): Promise<T> {
  const response = await fetch(url, { headers: headers(apiKey) });
  const body = (await response.json()) as T & { error?: { message: string } };
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${body.error?.message ?? ""}`);
  return body;
}

async function post(url: string, apiKey: string | undefined, body: unknown) {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: headers(apiKey, true),
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.status, json, ms: performance.now() - started };
  } catch (error) {
    return { status: 0, json: String(error), ms: performance.now() - started };
  }
}

const predictUrl = (t: SuiteTarget) =>
  new URL(
    `/v1/apps/${encodeURIComponent(t.app)}/${t.environment === "staging" ? "staging/" : ""}predict`,
    t.baseUrl,
  ).toString();

/** The golden cases, run from here against the deployment. */
export async function goldenAgainstDeployment(
  target: SuiteTarget,
  cases: readonly GoldenCaseDto[],
): Promise<JUnitSuite> {
  const timestamp = new Date().toISOString();
  const out: JUnitCase[] = [];
  for (const c of cases) {
    const answer = await post(predictUrl(target), target.apiKey, c.input);
    const base = { name: c.name, classname: `${target.app}.golden`, timeMs: answer.ms };
    if (answer.status !== 200 || typeof answer.json !== "object" || answer.json === null) {
      out.push({
        ...base,
        error: {
          message: `answered ${answer.status}`,
          details: JSON.stringify(answer.json).slice(0, 2000),
        },
      });
      continue;
    }
    const outcome = matchAnswer(
      c.expected,
      answer.json as Record<string, unknown>,
      parseGoldenMatch(c.match, "/match"),
    );
    out.push(
      outcome.passed
        ? base
        : {
            ...base,
            failure: {
              message: outcome.failures.map((f) => f.message).join("; "),
              details: JSON.stringify({ input: c.input, failures: outcome.failures }, null, 2),
            },
          },
    );
  }
  return {
    name: `${target.app} golden (${target.environment})`,
    timestamp,
    cases: out,
    properties: { app: target.app, environment: target.environment, url: predictUrl(target) },
  };
}

/** A server-side run (one version) as a JUnit suite. */
export function goldenRunSuite(app: string, run: GoldenRunDto): JUnitSuite {
  return {
    name: `${app} golden (v${run.version})`,
    timestamp: run.createdAt,
    properties: { app, version: String(run.version) },
    cases: run.results.map((r) => ({
      name: r.case,
      classname: `${app}.golden`,
      timeMs: r.ms,
      ...(r.error
        ? { error: { message: r.error, details: r.error } }
        : r.passed
          ? {}
          : {
              failure: {
                message: r.failures.map((f) => f.message).join("; "),
                details: JSON.stringify(r.failures, null, 2),
              },
            }),
    })),
  };
}

/** The app's predict request schema from the server's OpenAPI document. */
export async function requestSchemaOf(target: SuiteTarget): Promise<Record<string, unknown>> {
  const doc = await getJson<{ paths?: Record<string, unknown> }>(
    new URL("/openapi.json", target.baseUrl).toString(),
    target.apiKey,
  );
  const path = doc.paths?.[`/v1/apps/${target.app}/predict`] as
    | { post?: { requestBody?: { content?: Record<string, { schema?: unknown }> } } }
    | undefined;
  const schema = path?.post?.requestBody?.content?.["application/json"]?.schema;
  if (typeof schema !== "object" || schema === null) {
    throw new Error(
      `The OpenAPI document at ${target.baseUrl} has no request schema for ${target.app}`,
    );
  }
  return schema as Record<string, unknown>;
}

/** Contract tests: valid examples answered 200, invalid ones refused with a 4xx. */
export async function contractAgainstDeployment(
  target: SuiteTarget,
  cases: readonly ContractCase[],
): Promise<JUnitSuite> {
  const timestamp = new Date().toISOString();
  const out: JUnitCase[] = [];
  for (const c of cases) {
    const answer = await post(predictUrl(target), target.apiKey, c.body);
    const base = { name: c.name, classname: `${target.app}.contract`, timeMs: answer.ms };
    const held =
      c.expect === "accept"
        ? answer.status === 200
        : answer.status >= 400 && answer.status < 500 && answer.status !== 429;
    out.push(
      held
        ? base
        : {
            ...base,
            failure: {
              message: `expected ${c.expect === "accept" ? "200" : "a 4xx"}, got ${answer.status} (${c.why})`,
              details: JSON.stringify({ body: c.body, answer: answer.json }).slice(0, 4000),
            },
          },
    );
  }
  return {
    name: `${target.app} contract (${target.environment})`,
    timestamp,
    cases: out,
    properties: { app: target.app, environment: target.environment },
  };
}

/** Both suites against a running deployment. */
export async function testDeployment(target: SuiteTarget): Promise<SuiteReport> {
  const { cases } = await getJson<{ cases: GoldenCaseDto[] }>(
    new URL(`/v1/apps/${encodeURIComponent(target.app)}/golden`, target.baseUrl).toString(),
    target.apiKey,
  );
  const golden = await goldenAgainstDeployment(target, cases);
  const contract = await contractAgainstDeployment(
    target,
    contractCases(await requestSchemaOf(target), {
      validRecords: cases.map((c) => c.input),
    }),
  );
  return reportOf([golden, contract]);
}

export function reportOf(suites: readonly JUnitSuite[]): SuiteReport {
  let passed = 0;
  let failed = 0;
  for (const s of suites) {
    for (const c of s.cases) {
      if (c.failure || c.error) failed++;
      else if (!c.skipped) passed++;
    }
  }
  return { suites, passed, failed };
}

/** The console summary: one line per failing case, a total per suite. */
export function formatSuiteReport(report: SuiteReport): string {
  const lines: string[] = [];
  for (const s of report.suites) {
    const bad = s.cases.filter((c) => c.failure || c.error);
    lines.push(`${s.name}: ${s.cases.length - bad.length}/${s.cases.length} passed`);
    for (const c of bad) {
      lines.push(`  ✗ ${c.name}: ${(c.failure ?? c.error)?.message ?? ""}`);
    }
  }
  lines.push(
    report.failed === 0
      ? `All ${report.passed} checks passed.`
      : `${report.failed} of ${report.passed + report.failed} checks failed.`,
  );
  return lines.join("\n");
}

export { junitXml };
