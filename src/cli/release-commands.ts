/**
 * The release commands: `promote`, `approve`, `abort`, `rollback`, `releases`, `test`,
 * `golden` and `drill`. Each is a call to the server's API (the Studio's buttons make the same
 * calls), so CI and a person see the same gates and the same history.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { type Command, Option } from "commander";
import type {
  EnvironmentsDto,
  GoldenCaseDto,
  GoldenRunDto,
  PromoteResponse,
  ReleaseDto,
  ReleaseLiveDto,
  ReleasesDto,
  RollbackResponse,
} from "../server/release-api-types.ts";
import { type BallastClient, resolveApiKey } from "./client.ts";
import { formatDrillReport, parseDurationSeconds, parseRate, runDrill } from "./drill.ts";
import { table } from "./format.ts";
import {
  formatSuiteReport,
  goldenRunSuite,
  junitXml,
  reportOf,
  type SuiteReport,
  testDeployment,
} from "./suite-run.ts";

type Out = (text: string) => void;
type Globals = { url: string; apiKey?: string; dataDir: string };

const appPath = (app: string, rest: string) => `/v1/apps/${encodeURIComponent(app)}/${rest}`;

function describeRelease(r: ReleaseDto): string {
  const stable = r.stableVersion === null ? "" : ` (stable v${r.stableVersion})`;
  return `${r.strategy} release of v${r.candidateVersion}${stable}: ${r.state}, ${r.percent}% of traffic`;
}

function describeLive(live: ReleaseLiveDto): string {
  const lines = [describeRelease(live.release)];
  if (live.secondsLeft !== null)
    lines.push(
      `  step ${live.release.stepIndex + 1}/${live.release.plan.steps.length}, ${Math.round(live.secondsLeft)} s left`,
    );
  for (const g of live.gates) lines.push(`  ${g.status.padEnd(7)} ${g.gate}: ${g.message}`);
  for (const t of live.traffic) {
    lines.push(
      `  v${t.version} (${t.role}): ${t.requests} requests, errors ${t.errorRate === null ? "-" : `${(t.errorRate * 100).toFixed(2)}%`}, p95 ${t.p95Ms === null ? "-" : `${Math.round(t.p95Ms)} ms`}`,
    );
  }
  if (live.shadow) {
    const s = live.shadow;
    lines.push(
      `  shadow: ${s.requests} mirrored, agreement ${s.agreement === null ? "-" : `${(s.agreement * 100).toFixed(2)}%`}, mean |diff| ${s.meanAbsDiff ?? "-"}, candidate errors ${s.candidateErrors}, skipped ${s.skipped}`,
    );
  }
  if (live.ab) {
    for (const [name, t] of [
      ["conversion", live.ab.conversion],
      ["value", live.ab.value],
    ] as const) {
      if (!t) continue;
      lines.push(
        `  A/B ${name}: control ${t.control.value.toFixed(4)} (n=${t.control.n}) vs candidate ${t.treatment.value.toFixed(4)} (n=${t.treatment.n}), p=${t.pValue === null ? "-" : t.pValue.toPrecision(3)}${t.significant ? " significant" : ""}${t.remainingPerArm ? `, ${t.remainingPerArm} more per arm needed` : ""}`,
      );
    }
    for (const note of live.ab.notes) lines.push(`  A/B: ${note}`);
  }
  return lines.join("\n");
}

function writeReport(report: SuiteReport, junit: string | undefined, out: Out): void {
  out(formatSuiteReport(report));
  if (junit) {
    writeFileSync(junit, junitXml(report.suites));
    out(`JUnit XML written to ${junit}`);
  }
  if (report.failed > 0) process.exitCode = 1;
}

export function registerReleaseCommands(
  program: Command,
  client: () => BallastClient,
  out: Out,
): void {
  program
    .command("promote <app>")
    .description("deploy a version to staging, or release it to production by a strategy")
    .addOption(
      new Option("--to <environment>", "where to")
        .choices(["production", "staging"])
        .default("production"),
    )
    .addOption(
      new Option("--strategy <strategy>", "how (production)")
        .choices(["direct", "canary", "shadow", "ab"])
        .default("direct"),
    )
    .option("--version <n>", "the app version (default: staging's, or the newest for staging)")
    .option("--steps <percents>", "canary steps, e.g. 5,25,50,100")
    .option("--interval <seconds>", "canary analysis interval per step")
    .option("--min-requests <n>", "fewest requests to judge a step")
    .option("--max-error-rate <rate>", "canary gate: highest error rate, e.g. 0.02")
    .option("--max-p95-ms <ms>", "canary gate: highest p95 latency")
    .option("--max-p95-ratio <x>", "canary gate: highest p95 vs stable")
    .option("--manual-steps <percents>", "canary steps that wait for approval")
    .option("--percent <p>", "shadow: share mirrored; ab: share of callers")
    .option("--split-header <name>", "ab: the header with the caller's key")
    .option("--conversion-event <event>", "ab: the event whose rate is compared")
    .option("--value-event <event>", "ab: the event whose values are compared")
    .action(async (app: string, o: Record<string, string | undefined>) => {
      const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
      const body = Object.fromEntries(
        Object.entries({
          to: o.to,
          ...(o.to === "production" ? { strategy: o.strategy } : {}),
          version: num(o.version),
          steps: o.steps,
          intervalSeconds: num(o.interval),
          minRequests: num(o.minRequests),
          maxErrorRate: num(o.maxErrorRate),
          maxP95Ms: num(o.maxP95Ms),
          maxP95Ratio: num(o.maxP95Ratio),
          manualSteps: o.manualSteps,
          percent: num(o.percent),
          splitHeader: o.splitHeader,
          conversionEvent: o.conversionEvent,
          valueEvent: o.valueEvent,
        }).filter(([, v]) => v !== undefined),
      );
      const result = await client().request<PromoteResponse>("POST", appPath(app, "promote"), body);
      if (result.golden && result.golden.total > 0) {
        out(
          `Golden suite on v${result.golden.version}: ${result.golden.passed}/${result.golden.total} passed`,
        );
      }
      if (result.release) out(describeRelease(result.release));
      else if (result.deployment)
        out(`${app}: v${result.deployment.version} deployed to ${result.environment}`);
    });

  for (const [name, description] of [
    [
      "approve",
      "approve the active release (a paused canary step, or promote a shadow/A-B candidate)",
    ],
    ["abort", "stop the active release; all traffic back on the stable version"],
  ] as const) {
    program
      .command(`${name} <app>`)
      .description(description)
      .action(async (app: string) => {
        out(describeRelease(await client().request<ReleaseDto>("POST", appPath(app, name))));
      });
  }

  program
    .command("rollback <app>")
    .description("roll back the active release, or production to the version it served before")
    .action(async (app: string) => {
      const r = await client().request<RollbackResponse>("POST", appPath(app, "rollback"));
      if (r.release) out(describeRelease(r.release));
      if (r.deployment) out(`${app}: production serves v${r.deployment.version}`);
    });

  program
    .command("releases <app>")
    .description("the app's environments, the live state of its release, and release history")
    .option("--json", "print the API's JSON")
    .action(async (app: string, o: { json?: boolean }) => {
      const c = client();
      const [envs, releases] = await Promise.all([
        c.request<EnvironmentsDto>("GET", appPath(app, "environments")),
        c.request<ReleasesDto>("GET", appPath(app, "releases")),
      ]);
      if (o.json) return out(JSON.stringify({ environments: envs, ...releases }, null, 2));
      out(
        `production: ${envs.production ? `v${envs.production.version} since ${envs.production.since}` : "-"}`,
      );
      out(
        `staging:    ${envs.staging ? `v${envs.staging.version} since ${envs.staging.since}` : "-"}`,
      );
      if (releases.active) out(describeLive(releases.active));
      if (releases.releases.length === 0) return out("No releases yet.");
      out(
        table(
          releases.releases.map((r) => [
            r.createdAt,
            r.strategy,
            `v${r.candidateVersion}`,
            r.stableVersion === null ? "-" : `v${r.stableVersion}`,
            r.state,
            `${r.percent}%`,
            r.reason ?? r.events[r.events.length - 1]?.message ?? "",
          ]),
          ["STARTED", "STRATEGY", "CANDIDATE", "STABLE", "STATE", "TRAFFIC", "LAST"],
        ),
      );
    });

  program
    .command("test <app>")
    .description("run the app's golden suite (and contract tests) and write JUnit XML")
    .option("--version <n>", "run the golden suite on this version, inside the server")
    .addOption(
      new Option("--environment <env>", "the deployment to test over HTTP")
        .choices(["production", "staging"])
        .default("production"),
    )
    .option("--junit <file>", "write JUnit XML here")
    .action(
      async (
        app: string,
        o: { version?: string; environment: "production" | "staging"; junit?: string },
      ) => {
        const g = program.opts<Globals>();
        if (o.version !== undefined) {
          const run = await client().request<GoldenRunDto>("POST", appPath(app, "golden/run"), {
            version: Number(o.version),
          });
          return writeReport(reportOf([goldenRunSuite(app, run)]), o.junit, out);
        }
        const apiKey = resolveApiKey(g.apiKey, path.resolve(g.dataDir));
        const report = await testDeployment({
          baseUrl: g.url,
          apiKey,
          app,
          environment: o.environment,
        });
        writeReport(report, o.junit, out);
      },
    );

  const golden = program.command("golden").description("an app's golden cases");
  golden
    .command("list <app>")
    .description("list the golden cases")
    .action(async (app: string) => {
      const { cases } = await client().request<{ cases: GoldenCaseDto[] }>(
        "GET",
        appPath(app, "golden"),
      );
      if (cases.length === 0) return out("No golden cases yet.");
      out(
        table(
          cases.map((c) => [c.name, c.source, JSON.stringify(c.expected), JSON.stringify(c.match)]),
          ["NAME", "SOURCE", "EXPECTED", "MATCH"],
        ),
      );
    });
  golden
    .command("add <app> <input-json>")
    .description("add a case; the expected answer is production's answer now unless --expected")
    .option("--name <name>", "the case's name")
    .option("--expected <json>", "the expected answer fields")
    .option("--match <json>", 'how to match, e.g. {"mode":"tolerance","relative":0.05}')
    .action(
      async (
        app: string,
        input: string,
        o: { name?: string; expected?: string; match?: string },
      ) => {
        const { cases } = await client().request<{ cases: GoldenCaseDto[] }>(
          "POST",
          appPath(app, "golden"),
          {
            input: JSON.parse(input),
            source: "cli",
            ...(o.name ? { name: o.name } : {}),
            ...(o.expected ? { expected: JSON.parse(o.expected) } : {}),
            ...(o.match ? { match: JSON.parse(o.match) } : {}),
          },
        );
        for (const c of cases) out(`Added ${c.name}: expects ${JSON.stringify(c.expected)}`);
      },
    );
  golden
    .command("capture <app> <request-id>")
    .description("turn a logged live prediction into a case")
    .option("--name <name>", "the case's name")
    .action(async (app: string, requestId: string, o: { name?: string }) => {
      const c = await client().request<GoldenCaseDto>("POST", appPath(app, "golden/capture"), {
        requestId,
        ...(o.name ? { name: o.name } : {}),
      });
      out(`Captured ${c.name}: expects ${JSON.stringify(c.expected)}`);
    });

  program
    .command("drill <app>")
    .description("inject faults into the app's staging deployment and check its defences hold")
    .addOption(
      new Option("--fault <kind>", "what to inject")
        .choices(["slow", "error", "hang"])
        .makeOptionMandatory(),
    )
    .requiredOption("--rate <r>", "share of calls faulted: 0.2 or 20%")
    .requiredOption("--duration <d>", "how long: 30, 30s, 5m")
    .option("--rps <n>", "requests per second (at most 500)", "20")
    .option("--concurrency <n>", "most requests in flight", "64")
    .option("--delay-ms <ms>", "a slow fault's delay")
    .addOption(new Option("--target <t>", "the steps faulted").choices(["model", "http"]))
    .option("--input <json>", "one valid record (default: the first golden case's input)")
    .action(async (app: string, o: Record<string, string | undefined>) => {
      const g = program.opts<Globals>();
      const apiKey = resolveApiKey(g.apiKey, path.resolve(g.dataDir));
      let input = o.input ? (JSON.parse(o.input) as Record<string, unknown>) : undefined;
      if (!input) {
        const { cases } = await client().request<{ cases: GoldenCaseDto[] }>(
          "GET",
          appPath(app, "golden"),
        );
        input = cases[0]?.input;
        if (!input)
          throw new Error(
            "Give --input (one valid record): the app has no golden case to take one from",
          );
      }
      const report = await runDrill({
        baseUrl: g.url,
        ...(apiKey ? { apiKey } : {}),
        app,
        fault: o.fault as "slow" | "error" | "hang",
        rate: parseRate(String(o.rate)),
        durationSeconds: parseDurationSeconds(String(o.duration)),
        rps: Number(o.rps),
        concurrency: Number(o.concurrency),
        ...(o.delayMs ? { delayMs: Number(o.delayMs) } : {}),
        ...(o.target ? { target: o.target as "model" | "http" } : {}),
        input,
      });
      out(formatDrillReport(report));
      if (!report.held) process.exitCode = 1;
    });
}
