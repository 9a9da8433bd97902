/**
 * The Releases page against a real server: the churn app gets a second version, production goes
 * back to version 1 and version 2 waits in staging. A person saves a golden case from the try-it
 * form, opens Releases, runs the golden suite on version 2, starts a canary of it from the
 * promote dialog (with an hour per step, so it stays on its first step), watches the live panel
 * show the candidate's share and every check as the API judges it, aborts it behind a
 * confirmation, and sees the history say it was aborted. Every figure checked on the page is
 * compared with the API's own answer.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  EnvironmentsDto,
  GoldenCaseDto,
  ReleasesDto,
} from "../../src/server/release-api-types.ts";
import {
  gateLimitWords,
  gateStatusInfo,
  gateValueWords,
} from "../../web/src/pages/releases/releases-data.ts";
import { launchBrowser, openStudio, screenshot, VIEWPORT } from "../helpers/browser.ts";
import { publishChurn } from "../helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
/** Long enough for the page's next refresh (every 2 s during a release) on a busy machine. */
const REFRESH = { timeout: 15_000 } as const;
let browser: Browser;

beforeAll(async () => {
  // The release controller judges every half second here, so the gates have verdicts at once.
  [server, browser] = await Promise.all([startTestServer({ releaseTickMs: 500 }), launchBrowser()]);
  await publishChurn(server);
  const call = api(server, server.adminKey);
  const expectStatus = (r: { status: number; text: string }, ok: number[], what: string) => {
    if (!ok.includes(r.status)) throw new Error(`${what} answered ${r.status}: ${r.text}`);
  };
  // Version 2: the same pipeline. Saving a version deploys it to production, so production is
  // rolled back to version 1 and version 2 is put in staging: a candidate only staging runs.
  const versions = await call("GET", "/v1/apps/churn/versions");
  const spec = versions.json.versions[0].spec as Json;
  expectStatus(await call("POST", "/v1/apps/churn/versions", { spec }), [200, 201], "version 2");
  expectStatus(await call("POST", "/v1/apps/churn/rollback"), [200], "rollback");
  expectStatus(
    await call("POST", "/v1/apps/churn/promote", { to: "staging", version: 2 }),
    [200, 201],
    "promote to staging",
  );
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const unexpected = (errors: readonly string[]) =>
  errors.filter((e) => !e.includes("Failed to load resource"));

async function get<T>(route: string): Promise<T> {
  const r = await api(server, server.adminKey)("GET", route);
  expect(r.status, route).toBe(200);
  return r.json as T;
}

/** What a person reads in an element: its rendered text, blocks separated, spaces collapsed. */
const text = async (page: Page, testId: string) =>
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text (blocks apart) is the point.
  (await page.getByTestId(testId).innerText()).replace(/\s+/g, " ").trim();

describe("the releases page", () => {
  it("saves a golden case, starts a canary, shows it live, aborts it and records it", async () => {
    const env = await get<EnvironmentsDto>("/v1/apps/churn/environments");
    expect(env.production?.version).toBe(1);
    expect(env.staging?.version).toBe(2);

    const { page, context, errors } = await openStudio(browser, server.url);

    // The try-it form: predict, then keep the answer as a golden case.
    await page.goto("/apps/churn");
    await page.getByRole("button", { name: "Predict", exact: true }).click();
    const answer = page.getByTestId("answer");
    await answer.waitFor();
    const prediction = ((await answer.locator(".answer-value").textContent()) ?? "").trim();
    await page.getByRole("button", { name: "Save as golden case" }).click();
    await page.getByText(/^Saved as (the|a) golden case/).waitFor();
    const { cases } = await get<{ cases: GoldenCaseDto[] }>("/v1/apps/churn/golden");
    expect(cases).toHaveLength(1);
    const saved = cases[0] as GoldenCaseDto;
    expect(saved.source).toBe("studio");
    // The case expects what production showed in the form.
    expect(String(saved.expected.prediction)).toBe(prediction);
    expect(Object.keys(saved.input)).toEqual(expect.arrayContaining(["tenure", "contract"]));

    // The Releases tab: where each environment stands, and the case just saved.
    await page.getByRole("link", { name: "Releases" }).click();
    await page.waitForURL(/\/apps\/churn\/releases$/);
    await page.getByRole("heading", { level: 2, name: "Environments" }).waitFor();
    await expect.poll(() => text(page, "env-production"), REFRESH).toMatch(/^Production v1\b/);
    expect(await text(page, "env-staging")).toMatch(/^Staging v2\b/);
    const goldenTable = page.getByRole("table", { name: "Golden cases" });
    await goldenTable.getByRole("row").filter({ hasText: saved.name }).waitFor();
    expect(
      await goldenTable.getByRole("row").filter({ hasText: saved.name }).textContent(),
    ).toContain("Studio");

    // The suite on the candidate (staging's version is chosen first): it answers the same.
    expect(await page.getByLabel("Run on version").inputValue()).toBe("2");
    await page.getByRole("button", { name: "Run 1 golden case" }).click();
    await expect
      .poll(() => text(page, "golden-run"), REFRESH)
      .toBe("All 1 golden case passed on v2");

    // The promote dialog: a canary of staging's version, an hour per step.
    await page.getByRole("button", { name: "Promote to production…" }).click();
    const dialog = page.getByRole("dialog", { name: "Promote a version of churn" });
    await dialog.waitFor();
    expect(await dialog.getByLabel("Version", { exact: true }).inputValue()).toBe("2");
    expect(await dialog.getByRole("radio", { name: /^Canary/ }).isChecked()).toBe(true);
    expect(await dialog.getByRole("radio", { name: "Production" }).isChecked()).toBe(true);
    expect(await text(page, "plan-sentence")).toContain(
      "Send 5% of traffic to v2, then 25%, 50%, 100%, checking errors and speed for 5 minutes at each step.",
    );
    await dialog.getByLabel("Seconds at each step").fill("3600");
    await expect.poll(() => text(page, "plan-sentence")).toContain("for 1 hour at each step");
    // A step list that does not end at 100 is refused in the dialog, naming the field.
    await dialog.getByLabel("Traffic steps (%)").fill("5, 25, 50");
    await dialog.getByRole("button", { name: "Start the canary" }).click();
    await dialog.getByText("Steps: the last step must be 100").waitFor();
    await dialog.getByLabel("Traffic steps (%)").fill("5, 25, 50, 100");
    await dialog.getByRole("button", { name: "Start the canary" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByText("The canary of v2 has started").waitFor();

    // The live panel: the candidate's share as the API has it, and each check's verdict.
    const live = page.getByTestId("live-release");
    await live.waitFor();
    // The controller's first verdicts arrive with its first tick.
    const activeNow = async () => (await get<ReleasesDto>("/v1/apps/churn/releases")).active;
    await expect
      .poll(async () => (await activeNow())?.gates.length ?? 0, REFRESH)
      .toBeGreaterThan(0);
    const active = await activeNow();
    expect(active?.release.strategy).toBe("canary");
    expect(active?.release.candidateVersion).toBe(2);
    expect(active?.release.stableVersion).toBe(1);
    expect(active?.release.plan.intervalSeconds).toBe(3600);
    expect(active?.release.percent).toBe(5);
    const bar = page.getByRole("progressbar", { name: "Share of traffic answered by v2" });
    expect(await bar.getAttribute("aria-valuenow")).toBe("5");
    expect(await text(page, "candidate-share")).toBe("v2 (new): 5%");
    // An hour's interval just begun: an hour, or a few seconds under it, left.
    expect(await text(page, "live-status")).toMatch(
      /^Step 1 of 4: next check in (1 hour|59 minutes( \d+ seconds?)?)\.$/,
    );
    const gates = page.getByRole("table", { name: "Checks in this step" });
    for (const g of active?.gates ?? []) {
      const row = gates.locator(`tr[data-gate="${g.gate}"]`);
      await expect
        .poll(() => row.locator("td").allTextContents(), REFRESH)
        .toEqual([gateStatusInfo(g.status).label, gateValueWords(g), gateLimitWords(g), g.message]);
    }
    // Without traffic there is nothing to judge errors on: "no data", never "pass".
    expect(active?.gates.find((g) => g.gate === "error_rate")?.status).toBe("no_data");
    expect(await gates.locator('tr[data-gate="error_rate"] .badge').textContent()).toBe(
      "No data yet",
    );
    // The picture for the docs: environments, the live panel and its checks (a taller window).
    await page.setViewportSize({ width: VIEWPORT.width, height: 1400 });
    await page.evaluate("window.scrollTo(0, 0)");
    await screenshot(page, "releases");
    await page.setViewportSize(VIEWPORT);

    // Abort, behind a confirmation; the history records it.
    await live.getByRole("button", { name: "Abort the release" }).click();
    const confirm = page.getByRole("dialog", { name: "Abort the release of v2?" });
    await confirm.getByText("All traffic goes back to v1 at once").waitFor();
    await confirm.getByRole("button", { name: "Abort the release" }).click();
    await live.waitFor({ state: "detached" });
    const history = page.getByTestId("release-history");
    const first = history.getByRole("listitem").first();
    await expect.poll(() => first.locator(".badge").first().textContent(), REFRESH).toBe("Aborted");
    expect(await first.textContent()).toContain("v1 → v2");
    const after = await get<ReleasesDto>("/v1/apps/churn/releases");
    expect(after.active).toBeNull();
    expect(after.releases[0]?.state).toBe("aborted");
    expect(after.releases[0]?.id).toBe(active?.release.id);
    expect((await get<EnvironmentsDto>("/v1/apps/churn/environments")).production?.version).toBe(1);
    // Its events, unfolded: the abort is the newest.
    await first.getByText(/\d+ events?/).click();
    await expect
      .poll(() => first.getByRole("list").getByRole("listitem").first().textContent(), REFRESH)
      .toContain("Aborted");

    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });
});
