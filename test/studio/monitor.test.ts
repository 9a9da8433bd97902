/**
 * The monitor page against a real server with real traffic: the churn app answers 40 customers
 * and 3 bad requests on version 1, then 120 customers of a different mix (long-standing fibre
 * customers on two-year contracts) on version 2, which promises service levels; callers report
 * what happened (churned or not, and a renewal event). The page must show the server's own
 * numbers in every section (the request count the test sent, errors by kind, resources, SLO
 * cards, the drift alert firing, the ranked drift table and a feature's distribution, AUC per
 * version, the runtime's state) and follow the window and version pickers.
 */
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  AppSeriesDto,
  AppSloDto,
  DriftReportDto,
  OutcomeReportDto,
} from "../../src/server/monitor-api-types.ts";
import { formatMetric, formatPercent } from "../../web/src/lib/format.ts";
import { formatSloValue } from "../../web/src/pages/monitor/monitor-data.ts";
import { launchBrowser, openStudio, screenshot, VIEWPORT } from "../helpers/browser.ts";
import { publishChurn } from "../helpers/churn.ts";
import { api, CHURN_CSV, type Json, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let browser: Browser;

type Row = Record<string, string | number>;

/** The shipped churn CSV as records (quoted strings, bare numbers), the target apart. */
function churnRows(): { record: Row; churn: string }[] {
  const lines = readFileSync(CHURN_CSV, "utf8").trim().split("\n");
  const cells = (line: string) =>
    [...line.matchAll(/"([^"]*)"|([^,]+)/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])));
  const header = cells(lines[0] ?? "").map(String);
  return lines.slice(1).map((line) => {
    const values = cells(line);
    const record: Row = {};
    header.forEach((h, i) => {
      record[h] = values[i] ?? "";
    });
    const { churn, ...rest } = record;
    return { record: rest, churn: String(churn) };
  });
}

/** A customer mix the model was not trained on: every service, two-year, fibre, loyal. */
function shifted(row: Row, i: number): Row {
  return {
    ...row,
    tenure: 60 + (i % 12),
    partner: 1,
    dependents: 1,
    phone_service: 1,
    multiple_lines: "Yes",
    internet_service: "Fiber optic",
    online_security: "Yes",
    online_backup: "Yes",
    device_protection: "Yes",
    tech_support: "Yes",
    streaming_tv: "Yes",
    streaming_movies: "Yes",
    contract: "Two year",
    paperless_billing: 0,
    payment_method: "Credit card (automatic)",
    monthly_charges: 105 + (i % 10),
    total_charges: 7000 + i * 13,
  };
}

const SENT = { v1: 40, bad: 3, v2: 120 };

beforeAll(async () => {
  // The SLO evaluator judges every half second here, so the drift alert fires during the test.
  [server, browser] = await Promise.all([startTestServer({ sloIntervalMs: 500 }), launchBrowser()]);
  await publishChurn(server);
  const call = api(server, server.adminKey);
  const rows = churnRows();
  const outcomes: { request_id: string; actual: string }[] = [];
  const predict = async (record: Row, churn: string) => {
    const r = await call("POST", "/v1/apps/churn/predict", record);
    if (r.status !== 200) throw new Error(`predict answered ${r.status}: ${r.text}`);
    outcomes.push({ request_id: r.json.request_id, actual: churn });
    return r.json.request_id as string;
  };
  for (const { record, churn } of rows.slice(0, SENT.v1)) await predict(record, churn);
  for (const bad of [{ tenure: "x" }, { tenure: -1 }, {}]) {
    const r = await call("POST", "/v1/apps/churn/predict", bad);
    if (r.status !== 400) throw new Error(`a bad request answered ${r.status}`);
  }

  // Version 2: the same pipeline, with service levels to keep.
  const versions = await call("GET", "/v1/apps/churn/versions");
  const spec = versions.json.versions[0].spec as Json;
  const saved = await call("POST", "/v1/apps/churn/versions", {
    spec: {
      ...spec,
      monitoring: {
        ...(spec.monitoring ?? {}),
        slo: { latencyP95Ms: 5000, errorRate: 0.05, availability: 0.99, periodDays: 30 },
      },
    },
  });
  if (saved.status !== 201 && saved.status !== 200) {
    throw new Error(`saving version 2 answered ${saved.status}: ${saved.text}`);
  }
  const renewed: string[] = [];
  for (let i = 0; i < SENT.v2; i++) {
    const { record, churn } = rows[100 + i] ?? { record: {}, churn: "No" };
    const id = await predict(shifted(record, i), churn);
    if (i % 4 === 0) renewed.push(id);
  }
  const posted = await call("POST", "/v1/apps/churn/outcomes", {
    outcomes: [
      ...outcomes,
      ...renewed.map((request_id) => ({ request_id, event: "renewed", value: 20 })),
    ],
  });
  if (posted.status !== 200 && posted.status !== 202) {
    throw new Error(`posting outcomes answered ${posted.status}: ${posted.text}`);
  }
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const unexpected = (errors: readonly string[]) =>
  errors.filter((e) => !e.includes("Failed to load resource"));

function stat(page: Page, label: string) {
  return page
    .locator(".stat")
    .filter({ has: page.locator(".stat-label", { hasText: new RegExp(`^${label}$`) }) })
    .locator(".stat-value");
}

const count = async (page: Page, label: string) =>
  Number(((await stat(page, label).textContent()) ?? "").replace(/,/g, ""));

describe("the monitor page", () => {
  it("shows every section with the server's numbers, and follows the window and version", async () => {
    const call = api(server, server.adminKey);
    const get = async <T>(route: string): Promise<T> => {
      const r = await call("GET", route);
      expect(r.status, route).toBe(200);
      return r.json as T;
    };
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/apps/churn/monitor");
    await page.getByRole("heading", { level: 1, name: /churn/ }).waitFor();
    for (const name of [
      "Service levels",
      "Traffic",
      "Latency",
      "Errors by kind",
      "Runtime",
      "Resources",
      "Drift",
      "Outcomes per version",
    ]) {
      await page.getByRole("heading", { level: 2, name, exact: true }).waitFor();
    }

    // Traffic: exactly what the test sent, by outcome.
    const total = SENT.v1 + SENT.bad + SENT.v2;
    await expect.poll(() => count(page, "Requests")).toBe(total);
    const all = await get<AppSeriesDto>("/v1/apps/churn/series?window=15m");
    expect(all.totals.requests).toBe(total);
    expect(all.totals.outcomes.client_error).toBe(SENT.bad);
    expect(await stat(page, "Requests").locator("..").textContent()).toContain(
      `${all.totals.cacheHits} from the cache`,
    );
    await page
      .getByRole("figure", { name: /Requests per second by outcome/ })
      .locator(".recharts-area")
      .first()
      .waitFor();
    // Bursts of traffic make few points: a line, or at least its dots.
    const drawn = ".recharts-line-curve, .recharts-line-dot";
    await page
      .getByRole("figure", { name: /Latency percentiles/ })
      .locator(drawn)
      .filter({ visible: true })
      .first()
      .waitFor();
    const errorsTable = page.getByRole("table", { name: "Errors by kind in the window" });
    const bad = errorsTable.getByRole("row").filter({ hasText: "Bad request" });
    expect(await bad.locator("td.num").textContent()).toBe(String(SENT.bad));
    expect(await stat(page, "Error rate").textContent()).toBe(
      formatPercent((SENT.bad / total) * 100, 2),
    );

    // Resources: this server's CPU, memory, event loop and GC, drawn.
    const cpu = page.getByRole("figure", { name: /CPU use/ });
    await cpu.locator(drawn).filter({ visible: true }).first().waitFor();
    expect(await page.locator(".resource-now").first().textContent()).toMatch(/^\d[\d.,]*%$/);

    // Runtime: the bulkhead is idle, the app has no cache.
    await expect.poll(() => stat(page, "In flight").textContent()).toBe("0");
    expect(await stat(page, "Cache hit rate").textContent()).toBe("—");

    // Service levels of the live version (2), as the API judges them.
    const slo = await get<AppSloDto>("/v1/apps/churn/slo");
    expect(slo.slos.map((s) => s.name).sort()).toEqual([
      "availability",
      "error_rate",
      "latency_p95",
    ]);
    for (const s of slo.slos) {
      const card = page.getByTestId(`slo-${s.name}`);
      await card.waitFor();
      await expect
        .poll(async () => (await card.locator(".slo-value").textContent())?.split(" over")[0])
        .toBe(formatSloValue(s.name, s.current));
    }
    await page.getByTestId("slo-availability").getByText("Met").waitFor();

    // Drift on version 2: the new customer mix drifted, the alert fires and is listed.
    const verdict = page.getByTestId("drift-verdict");
    await expect
      .poll(() => verdict.textContent(), { timeout: 30_000 })
      .toContain("The data has drifted");
    const drift = await get<DriftReportDto>("/v1/apps/churn/drift?window=time");
    expect(drift.version).toBe(2);
    expect(drift.dataset.drifted).toBe(true);
    const table = page.getByRole("table", { name: /Features ranked by drift/ });
    const names = await table.locator("tbody th button").allTextContents();
    expect(names).toEqual(drift.features.map((f) => f.feature));
    expect(names).toEqual(expect.arrayContaining(["tenure", "contract", "monthly_charges"]));
    const contractRow = table.getByRole("row").filter({ hasText: "contract" });
    expect(await contractRow.getByText("Drifted").count()).toBe(1);
    const firing = page.getByTestId("firing");
    await expect.poll(() => firing.textContent(), { timeout: 30_000 }).toMatch(/drift/i);
    const events = (await get<AppSloDto>("/v1/apps/churn/slo")).events;
    const alert = events.find((e) => e.rule === "drift:dataset");
    expect(alert).toBeDefined();
    await page
      .getByRole("list", { name: "Recent events" })
      .getByText(alert?.message ?? "", { exact: false })
      .first()
      .waitFor();

    // A feature's distribution: chosen with the mouse, then with the keyboard.
    await table.getByRole("button", { name: "contract", exact: true }).click();
    const detail = page.getByRole("heading", { level: 3, name: /^contract: training data/ });
    await detail.waitFor();
    const contractFigure = page.getByRole("figure", { name: /^contract: share of rows per bin/ });
    await contractFigure.locator(".recharts-bar-rectangle").first().waitFor();
    const contract = drift.features.find((f) => f.feature === "contract");
    const twoYear = contract?.bins.find((b) => b.label === "Two year");
    expect(twoYear?.live).toBe(1);
    await page.getByText("Show the numbers").first().click();
    const bins = page.getByRole("table", { name: "contract: bins" });
    const twoYearRow = bins.getByRole("row").filter({ hasText: "Two year" });
    expect(await twoYearRow.locator("td").allTextContents()).toEqual([
      formatPercent((twoYear?.baseline ?? 0) * 100),
      formatPercent(100),
    ]);
    await table.getByRole("button", { name: "tenure", exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 3, name: /^tenure: training data/ }).waitFor();
    expect(
      await table.getByRole("button", { name: "tenure", exact: true }).getAttribute("aria-pressed"),
    ).toBe("true");
    // The model's own answers against its training-time distribution.
    await page
      .getByTestId("prediction-distribution")
      .locator(".recharts-bar-rectangle")
      .first()
      .waitFor();

    // Outcomes: AUC per version, as the server computed it from the reported outcomes.
    let report: OutcomeReportDto | undefined;
    await expect
      .poll(
        async () => {
          report = await get<OutcomeReportDto>("/v1/apps/churn/outcomes?window=1h");
          return report.versions.map((v) => v.metrics.labelled).sort((a, b) => a - b);
        },
        { timeout: 20_000 },
      )
      .toEqual([SENT.v1, SENT.v2]);
    const outcomesTable = page.getByTestId("outcomes-table");
    for (const v of report?.versions ?? []) {
      const row = outcomesTable.getByRole("row").filter({ hasText: `Version ${v.version}` });
      await expect
        .poll(() => row.locator("td").allTextContents())
        .toEqual(
          expect.arrayContaining([
            String(v.metrics.labelled),
            formatMetric("auc", v.metrics.auc ?? undefined),
          ]),
        );
    }
    expect(report?.versions.every((v) => v.metrics.auc !== null)).toBe(true);
    await page
      .getByRole("figure", { name: /^AUC per version/ })
      .locator(drawn)
      .filter({ visible: true })
      .first()
      .waitFor();
    await page.getByRole("figure", { name: /^Conversion rate of renewed/ }).waitFor();

    // The picture for the docs: the alert, service levels, totals, traffic and latency (a taller
    // window than the other pictures, so it holds the top of the page down to the charts).
    await page.setViewportSize({ width: VIEWPORT.width, height: 1440 });
    await page.mouse.move(0, 0);
    await page.evaluate("window.scrollTo(0, 0)");
    await screenshot(page, "monitor");
    await page.setViewportSize(VIEWPORT);

    // Window: the last hour holds the same traffic; the address keeps the choice.
    await page.getByLabel("Time window", { exact: true }).selectOption("1h");
    await page.waitForURL(/window=1h/);
    await expect
      .poll(() => stat(page, "Requests").locator("..").textContent())
      .toContain("last hour");
    expect(await count(page, "Requests")).toBe(total);

    // Version: each version's own traffic and drift.
    const v1 = await get<AppSeriesDto>("/v1/apps/churn/series?window=1h&version=1");
    expect(v1.totals.requests).toBeGreaterThanOrEqual(SENT.v1);
    await page.getByLabel("Version", { exact: true }).selectOption("1");
    await page.waitForURL(/version=1/);
    await expect.poll(() => count(page, "Requests")).toBe(v1.totals.requests);
    // 40 predictions are fewer than a verdict needs: the page says so instead of judging.
    await expect.poll(() => verdict.textContent()).toContain("Too little data to judge");
    expect(await verdict.textContent()).toContain("version 1");
    await page.getByTestId("drift-too-little").waitFor();
    await page.getByLabel("Version", { exact: true }).selectOption("2");
    await expect.poll(() => count(page, "Requests")).toBe(SENT.v2);
    await page.getByLabel("Version", { exact: true }).selectOption("all");
    await expect.poll(() => count(page, "Requests")).toBe(total);

    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });

  it("explains how to send outcomes before any arrive, and what to do without traffic", async () => {
    const call = api(server, server.adminKey);
    // A second app on the same model, never called: every section has its empty state.
    const published = await call("POST", "/v1/apps", { model: "churn@1", app: "quiet" });
    expect(published.status).toBe(201);
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/apps/quiet/monitor");
    await page
      .getByRole("heading", { level: 2, name: /^No requests in the last 15 minutes/ })
      .waitFor();
    await page.getByRole("heading", { level: 3, name: "No outcomes yet" }).waitFor();
    const snippet = page.locator(".code-block pre").first();
    const code = (await snippet.textContent()) ?? "";
    expect(code).toContain(`${server.url}/v1/apps/quiet/outcomes`);
    expect(code).toMatch(/"actual":"(Yes|No)"/);
    await page.getByRole("heading", { level: 3, name: "No service levels are set" }).waitFor();
    await page.getByRole("heading", { level: 3, name: "No predictions to compare yet" }).waitFor();
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });
});
