/**
 * Golden suites run inside the server: each case's input through a version's own pipeline
 * (loaded apart from every environment, so a run never touches production's breakers or
 * caches), its answer matched against the expected fields, and the run recorded so that
 * promotion can be gated on it.
 */
import type { Registry } from "../../registry/registry.ts";
import {
  type GoldenMatch,
  GoldenMatchError,
  matchAnswer,
  parseGoldenMatch,
} from "../../release/golden/golden-match.ts";
import type { AppRuntime, PublishedApp } from "../app-runtime.ts";
import { toErrorResponse } from "../error-response.ts";
import type { GoldenCaseResultDto, GoldenRunDto } from "../release-api-types.ts";

/** One case through one loaded version. */
export async function runGoldenCase(
  app: PublishedApp,
  c: {
    readonly name: string;
    readonly input: Readonly<Record<string, unknown>>;
    readonly expected: Readonly<Record<string, unknown>>;
    readonly match: unknown;
  },
): Promise<GoldenCaseResultDto> {
  const started = performance.now();
  let match: GoldenMatch;
  try {
    match = parseGoldenMatch(c.match, "/match");
  } catch (error) {
    const message = error instanceof GoldenMatchError ? error.message : String(error);
    return { case: c.name, passed: false, ms: 0, failures: [], error: `invalid match: ${message}` };
  }
  try {
    const result = await app.runtime.pipeline.runDetached(
      [c.input as Record<string, unknown>],
      app.runtime.policies.timeouts.requestMs,
    );
    const actual = { ...(result.answers[0] ?? {}) } as Record<string, unknown>;
    const outcome = matchAnswer(c.expected, actual, match);
    return {
      case: c.name,
      passed: outcome.passed,
      ms: performance.now() - started,
      failures: outcome.failures,
      actual,
    };
  } catch (error) {
    const { status, body } = toErrorResponse(error as Error);
    return {
      case: c.name,
      passed: false,
      ms: performance.now() - started,
      failures: [],
      error: `${status} ${body.error.code}: ${body.error.message}`,
    };
  }
}

/**
 * Runs the app's cases on one of its versions and records the run. An app without cases
 * passes vacuously (recorded with total 0, `ok` false in the registry, so callers look at
 * `total`).
 */
export async function runGoldenSuite(
  deps: { readonly registry: Registry; readonly apps: AppRuntime },
  workspaceId: string,
  appId: string,
  version: { readonly id: string; readonly version: number },
): Promise<GoldenRunDto> {
  const cases = await deps.registry.golden.listCases(appId);
  const results =
    cases.length === 0
      ? []
      : await deps.apps.withVersion(workspaceId, version.id, async (app) => {
          const out: GoldenCaseResultDto[] = [];
          for (const c of cases) out.push(await runGoldenCase(app, c));
          return out;
        });
  const passed = results.filter((r) => r.passed).length;
  const run = await deps.registry.golden.recordRun({
    appId,
    appVersionId: version.id,
    passed,
    failed: results.length - passed,
    total: results.length,
    results: { results: JSON.parse(JSON.stringify(results)) },
  });
  return {
    id: run.id,
    version: version.version,
    passed,
    failed: results.length - passed,
    total: results.length,
    ok: results.length - passed === 0,
    results,
    createdAt: run.createdAt,
  };
}
