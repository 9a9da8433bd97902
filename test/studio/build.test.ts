/**
 * Flows 2, 3 and 5 in a real browser, with real training: start from the churn sample, pick
 * the column to predict, see the task and the columns (switch one off and on), train with a
 * short budget while progress streams in, read the report, publish, try the app, copy the
 * snippets, create an invoker key and call the app with it, then watch the Monitor page count
 * the traffic; the same for a regression on uploaded data, where an ID-like column is flagged.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openStudio, screenshot, scrollToTop } from "../helpers/browser.ts";
import { CHURN_RECORD } from "../helpers/churn.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { homes, toCsv } from "./fixtures.ts";

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const unexpected = (errors: readonly string[]) =>
  errors.filter((e) => !e.includes("Failed to load resource"));

/** Progress bar values seen while the job page is open, sampled by the page itself. */
async function watchProgress(page: Page): Promise<() => Promise<number[]>> {
  await page.evaluate(`(() => {
    window.__progress = [];
    const tick = () => {
      const bar = document.querySelector('[role=progressbar][aria-label="Training progress"]');
      const v = bar && bar.getAttribute("aria-valuenow");
      if (v !== null && v !== undefined && window.__progress.at(-1) !== Number(v)) window.__progress.push(Number(v));
    };
    window.__timer = setInterval(tick, 50);
  })()`);
  return async () => (await page.evaluate("window.__progress")) as number[];
}

/** Train from the Predict tab, watch the live progress, and open the report. */
async function trainAndOpenReport(page: Page, model: string, screenshotName?: string) {
  await page.getByLabel("Model name").fill(model);
  await page.getByLabel("Time to search").selectOption("10");
  await page.getByRole("button", { name: "Train model" }).click();
  await page.waitForURL(/\/jobs\//);
  const seen = await watchProgress(page);
  await page.getByRole("heading", { level: 1, name: `Training ${model}` }).waitFor();
  // Live: the candidates counter moves while the job runs.
  const tried = page.locator(".stat", { hasText: "Candidates tried" }).locator(".stat-value");
  await expect.poll(() => tried.textContent(), { timeout: 60_000 }).toMatch(/^\d+ of \d+$/);
  const best = page.locator(".stat", { hasText: "Best score so far" }).locator(".stat-value");
  await expect.poll(() => best.textContent(), { timeout: 60_000 }).toMatch(/^\d/);
  if (screenshotName) await screenshot(page, screenshotName);
  await page.getByText(new RegExp(`Model ${model} v1 is ready`)).waitFor({ timeout: 120_000 });
  // Progress arrived as a stream: values strictly between 0 and 100 were shown before the end.
  await expect.poll(async () => (await seen()).at(-1)).toBe(100);
  expect((await seen()).some((v) => v > 0 && v < 100)).toBe(true);
  await page.getByRole("link", { name: "Open the report" }).click();
  await page.waitForURL(/\/models\//);
  await page.getByTestId("summary").waitFor();
}

describe("from the churn sample to a published, monitored app", () => {
  it("walks build, report, publish, try it, snippets, key and monitor", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/data");
    await page.getByRole("button", { name: "Use this sample" }).waitFor();
    // Record every import progress message the page shows, however briefly.
    await page.evaluate(`(() => {
      window.__imports = [];
      new MutationObserver(() => {
        const bar = document.querySelector('[role=progressbar][aria-label^="Importing"]');
        const text = bar && bar.parentElement && bar.parentElement.textContent;
        if (text && window.__imports.at(-1) !== text) window.__imports.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    })()`);
    await page.getByRole("button", { name: "Use this sample" }).click();
    await page.getByRole("heading", { level: 1, name: "wa_churn" }).waitFor();
    const imports = (await page.evaluate("window.__imports")) as string[];
    expect(imports.some((t) => /Uploading wa_churn\.csv… \d+%/.test(t))).toBe(true);
    expect(imports.some((t) => t.startsWith("Reading wa_churn.csv"))).toBe(true);
    // The sample suggests its target: the Predict tab opens with churn picked.
    expect(await page.getByLabel("Column to predict").inputValue()).toBe("churn");
    const task = page.getByTestId("task");
    await task.waitFor();
    expect(await task.textContent()).toContain("Binary classification");
    expect(await task.textContent()).toMatch(/whether churn is Yes/);
    const used = page.getByRole("list", { name: "Columns used" });
    await used.getByText("tenure", { exact: true }).waitFor();
    const inputs = await used.getByRole("checkbox").count();
    expect(inputs).toBeGreaterThan(10);

    // Switch a column off: the server re-analyses and lists it as left out by the person.
    await used
      .getByRole("listitem")
      .filter({ hasText: "total_charges" })
      .getByRole("checkbox")
      .click();
    const out = page.getByRole("list", { name: "Columns left out" });
    const charges = out.getByRole("listitem").filter({ hasText: "total_charges" });
    await charges.waitFor();
    expect(await charges.textContent()).toContain("Excluded by you");
    await expect.poll(() => used.getByRole("checkbox").count()).toBe(inputs - 1);
    await screenshot(page, "build");
    // And back on.
    await charges.getByRole("checkbox").click();
    await expect.poll(() => used.getByRole("checkbox").count()).toBe(inputs);

    await trainAndOpenReport(page, "churn-model", "training");

    // The report: words first, then the charts.
    const summary = await page.getByTestId("summary").textContent();
    expect(summary?.length ?? 0).toBeGreaterThan(30);
    await page
      .getByRole("figure", { name: /ROC curve/ })
      .locator(".recharts-line-curve")
      .waitFor();
    const matrix = page.getByRole("table", { name: "Confusion matrix" });
    await matrix.waitFor();
    expect(await matrix.locator("tbody td").count()).toBe(4);
    expect(await matrix.getByRole("rowheader").allTextContents()).toEqual(["No", "Yes"]);
    const importance = page.getByRole("list", { name: "Feature importance" });
    expect(await importance.getByRole("listitem").count()).toBeGreaterThan(3);
    await page.getByRole("heading", { name: "Sample predictions" }).waitFor();
    expect(
      await page
        .getByRole("list", { name: /What pushed prediction 1/ })
        .getByRole("listitem")
        .count(),
    ).toBeGreaterThan(0);
    const candidates = page.getByRole("heading", { name: /Candidates tried \(\d+\)/ });
    await candidates.waitFor();
    await page.getByText("Chosen", { exact: true }).waitFor();
    await screenshot(page, "model-report");
    await scrollToTop(page.getByRole("heading", { name: "ROC curve" }));
    await screenshot(page, "model-charts");

    // Publish: one click, under the model's name.
    await page.getByRole("button", { name: "Publish as app" }).click();
    await page.waitForURL(/\/apps\/churn-model/);
    await page.getByText("churn-model v1 is live").waitFor();
    expect(await page.getByTestId("endpoint").textContent()).toBe(
      `POST ${server.url}/v1/apps/churn-model/predict`,
    );

    // Try it: the form is generated from the input schema and filled with a held-out row.
    const form = page.getByRole("form", { name: "Try the app" });
    await form.getByLabel("contract").waitFor();
    expect(await form.getByLabel("contract").evaluate((e) => e.tagName)).toBe("SELECT");
    expect(await form.getByLabel("tenure").getAttribute("type")).toBe("number");
    await form.getByLabel("contract").selectOption("Month-to-month");
    await form.getByLabel("tenure").fill("2");
    await form.getByRole("button", { name: "Predict" }).click();
    const answer = page.getByTestId("answer");
    await answer.waitFor();
    expect(await answer.textContent()).toMatch(/Prediction(Yes|No)/);
    expect(
      await page
        .getByRole("list", { name: "Probability of each class" })
        .getByRole("listitem")
        .count(),
    ).toBe(2);
    expect(
      await page
        .getByRole("list", { name: "Contribution of each input" })
        .getByRole("listitem")
        .count(),
    ).toBeGreaterThan(0);
    // A required field left blank is named, and nothing is sent.
    await form.getByLabel("tenure").fill("");
    await form.getByRole("button", { name: "Predict" }).click();
    await form.getByText("is required").waitFor();
    await form.getByLabel("tenure").fill("2");

    // Snippets: three languages, each copied whole.
    const snippetTab = (name: string) => page.getByRole("tab", { name });
    await snippetTab("curl").click();
    const code = page.locator(".code-block pre");
    expect(await code.textContent()).toContain("/v1/apps/churn-model/predict");
    expect(await code.textContent()).toContain("YOUR_API_KEY");
    await page.getByRole("button", { name: "Copy curl" }).click();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(await code.textContent());
    await snippetTab("Python (requests)").click();
    expect(await code.textContent()).toContain("requests.post(");
    await snippetTab("JavaScript (fetch)").click();
    expect(await code.textContent()).toContain("await fetch(");

    // An invoker key, shown once, goes into the snippets, and really calls the app.
    await page.getByRole("button", { name: "Create an invoker key" }).click();
    const newKey = page.getByTestId("new-key");
    await newKey.waitFor();
    const secret = (await newKey.locator("code").textContent()) ?? "";
    expect(secret).toMatch(/^blst_/);
    expect(await code.textContent()).toContain(secret);
    await page.getByTestId("answer").scrollIntoViewIfNeeded();
    await screenshot(page, "app");
    const call = api(server, secret);
    const { tenure: _t, ...rest } = CHURN_RECORD;
    const viaKey = await call("POST", "/v1/apps/churn-model/predict", { ...rest, tenure: 5 });
    expect(viaKey.status).toBe(200);
    // The invoker key can call, and do nothing else.
    expect((await call("GET", "/v1/datasets")).status).toBe(403);

    // Monitor: the traffic so far, then more while the page watches.
    await page.getByRole("link", { name: "Monitor" }).click();
    await page.waitForURL(/\/monitor$/);
    const requests = page.locator(".stat", { hasText: "Requests" }).first().locator(".stat-value");
    await expect.poll(() => requests.textContent()).toMatch(/^[1-9]/);
    const before = Number((await requests.textContent())?.replace(/,/g, ""));
    for (let i = 0; i < 12; i++) {
      await call("POST", "/v1/apps/churn-model/predict", { ...rest, tenure: i });
    }
    expect((await call("POST", "/v1/apps/churn-model/predict", { tenure: "x" })).status).toBe(400);
    await expect
      .poll(async () => Number((await requests.textContent())?.replace(/,/g, "")), {
        timeout: 15_000,
      })
      .toBeGreaterThanOrEqual(before + 13);
    await page
      .getByRole("figure", { name: /Latency percentiles/ })
      .locator(".recharts-line-dot")
      .first()
      .waitFor();
    expect(
      await page.locator(".stat", { hasText: "Error rate" }).locator(".stat-value").textContent(),
    ).not.toBe("0%");
    await screenshot(page, "monitor-first-requests");

    // Design: the pipeline as a graph, in its own lazily loaded chunk.
    await page.getByRole("link", { name: "Design", exact: true }).click();
    await page.waitForURL(/\/design$/);
    await expect.poll(() => page.locator(".react-flow__node").count()).toBeGreaterThanOrEqual(4);

    // The lists lead back to what was made.
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Models" })
      .click();
    await page.getByRole("link", { name: "churn-model" }).waitFor();
    await screenshot(page, "models");
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Apps" })
      .click();
    await page.getByRole("table").getByRole("link", { name: "churn-model", exact: true }).waitFor();
    await screenshot(page, "apps");
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });
});

describe("a regression on uploaded data", () => {
  it("flags the ID-like column, trains, and draws predicted-vs-actual and residuals", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/data");
    await page.getByRole("button", { name: "Choose a file" }).waitFor();
    await page.locator("input[type=file]").setInputFiles({
      name: "homes.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(toCsv(homes())),
    });
    await page.getByRole("heading", { level: 1, name: "homes" }).waitFor();
    await page.getByRole("button", { name: "Predict a column" }).click();
    await page.getByLabel("Column to predict").selectOption("price");
    const task = page.getByTestId("task");
    await task.waitFor();
    expect(await task.textContent()).toContain("Regression");
    const out = page.getByRole("list", { name: "Columns left out" });
    const listing = out.getByRole("listitem").filter({ hasText: "listing" });
    await listing.waitFor();
    expect(await listing.textContent()).toContain("ID-like");
    // A person who knows better can keep it; it then counts among the inputs.
    await listing.getByRole("checkbox").click();
    const used = page.getByRole("list", { name: "Columns used" });
    await used.getByText("listing", { exact: true }).waitFor();
    await used.getByRole("listitem").filter({ hasText: "listing" }).getByRole("checkbox").click();
    await out.getByRole("listitem").filter({ hasText: "listing" }).waitFor();

    await trainAndOpenReport(page, "prices");
    await page
      .getByRole("figure", { name: /predicted against actual/ })
      .locator(".recharts-scatter-symbol")
      .first()
      .waitFor();
    await page
      .getByRole("figure", { name: /residuals/ })
      .locator(".recharts-scatter-symbol")
      .first()
      .waitFor();
    expect(await page.getByRole("table", { name: "Confusion matrix" }).count()).toBe(0);
    await scrollToTop(page.getByRole("heading", { name: "Predicted vs actual" }));
    await screenshot(page, "model-regression");
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });
});
