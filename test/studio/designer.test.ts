/**
 * Flow 4 in a real browser: the churn app's pipeline as a graph. A setting changed in the
 * form shows in the YAML, a YAML edit shows in the form, broken YAML names its line and keeps
 * the graph, a second model step is refused on its node (and by Save), the server's own
 * refusal lands on the node it names, keyboard buttons connect and disconnect, and a saved
 * graph is a new deployed app version whose settings predict honours. The runtime's kinds and
 * policies: a fallback step added between the model and the output, policies and the webhook
 * set in their tab, saved into the app's next version.
 */
import { readFileSync } from "node:fs";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openStudio, screenshot } from "../helpers/browser.ts";
import { CHURN_RECORD } from "../helpers/churn.ts";
import { api, CHURN_CSV, type Json, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let browser: Browser;
let call: ReturnType<typeof api>;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  call = api(server, server.adminKey);
  // The demo app, as `npm start` publishes it: churn data, a model, the app "churn".
  const upload = await fetch(new URL("/v1/datasets?name=churn&filename=wa_churn.csv", server.url), {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}` },
    body: readFileSync(CHURN_CSV),
  });
  expect(upload.status).toBe(201);
  const job = await call("POST", "/v1/train", {
    dataset: "churn",
    target: "churn",
    timeBudgetSeconds: 2,
  });
  expect(job.status).toBe(202);
  expect((await server.ballast.training.waitFor(job.json.job.id)).status).toBe("succeeded");
  expect((await call("POST", "/v1/apps", { model: "churn@1", app: "churn" })).status).toBe(201);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Console errors other than the browser's note about a 4xx answer the page expected. */
const unexpected = (errors: readonly string[]) =>
  errors.filter((e) => !e.includes("Failed to load resource"));

const node = (page: Page, id: string): Locator =>
  page.locator(`.react-flow__node[data-id="${id}"]`);
const yaml = (page: Page) => page.getByLabel("App spec as YAML");

describe("the pipeline designer", () => {
  it("edits the graph, the form and the YAML together and saves a new version", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/apps/churn/design");

    // The app's pipeline as it runs today.
    for (const id of ["input", "validate", "model", "output"]) await node(page, id).waitFor();
    expect(await page.locator(".react-flow__edge").count()).toBe(3);
    expect(await node(page, "model").textContent()).toContain("Model name: churn");
    await page.getByRole("heading", { name: "No problems" }).waitFor();
    const original = await yaml(page).inputValue();
    expect(original).toContain("kind: validate");
    expect(original).toContain("maxRows: 1000");
    expect(original).not.toContain("limits:");

    // The form changes the YAML.
    await node(page, "validate").click();
    await page.getByRole("heading", { name: "Validate step" }).waitFor();
    const maxRows = page.getByLabel("Most rows per request");
    expect(await maxRows.getAttribute("min")).toBe("1");
    expect(await maxRows.getAttribute("max")).toBe("100000");
    await maxRows.fill("50");
    await expect.poll(() => yaml(page).inputValue()).toContain("maxRows: 50");
    expect(await node(page, "validate").textContent()).toContain("Most rows per request: 50");

    // The YAML changes the form.
    const unknown = page.getByLabel("Unknown categories");
    expect(await unknown.inputValue()).toBe("bucket");
    const text = await yaml(page).inputValue();
    await yaml(page).fill(text.replace("unknownCategories: bucket", "unknownCategories: reject"));
    await expect.poll(() => unknown.inputValue()).toBe("reject");

    // A bad setting typed in the YAML is a problem on the node, at its line.
    const withBadRows = (await yaml(page).inputValue()).replace("maxRows: 50", "maxRows: 0");
    await yaml(page).fill(withBadRows);
    await node(page, "validate").getByText("maxRows must be >= 1").waitFor();
    expect(await node(page, "validate").getAttribute("class")).toContain("has-problems");
    const badLine = withBadRows.split("\n").findIndex((l) => l.includes("maxRows: 0")) + 1;
    await page.locator(".designer-problems").getByText(`line ${badLine}`).waitFor();
    await yaml(page).fill(withBadRows.replace("maxRows: 0", "maxRows: 50"));
    await page.getByRole("heading", { name: "No problems" }).waitFor();

    // Broken YAML names its line and leaves the graph alone.
    const good = await yaml(page).inputValue();
    const broken = good.replace(
      "  - id: model\n    kind: model",
      "  - id: model\n     kind: model",
    );
    const brokenLine = broken.split("\n").indexOf("  - id: model") + 1;
    await yaml(page).fill(broken);
    const alert = page.locator(".yaml-error");
    await alert.waitFor();
    expect(await alert.textContent()).toContain(`Line ${brokenLine}:`);
    expect(await page.locator(".react-flow__node").count()).toBe(4);
    expect(await maxRows.inputValue()).toBe("50");
    await yaml(page).fill(good);
    await alert.waitFor({ state: "detached" });

    // A second model step, added from the palette after the selected step: refused on its node.
    await page
      .getByRole("toolbar", { name: "Add a step" })
      .getByRole("button", { name: "Add Model step" })
      .click();
    const second = node(page, "model2");
    await second.waitFor();
    await second.getByText("The runtime runs one model step today").waitFor();
    expect(await second.getAttribute("class")).toContain("has-problems");
    const problems = page.locator(".designer-problems");
    expect(await problems.textContent()).toContain("The runtime runs one model step today");
    await screenshot(page, "designer-problem");
    // Save refuses it here, without asking the server.
    await page.getByRole("button", { name: "Save as new version" }).click();
    await page.getByRole("alert").filter({ hasText: "Not saved" }).waitFor();
    expect((await call("GET", "/v1/apps/churn/versions")).json.versions).toHaveLength(1);
    // Removed with the settings panel's button (the new step is the selected one).
    await page.getByRole("button", { name: "Delete step model2" }).click();
    await second.waitFor({ state: "detached" });
    await page.getByRole("heading", { name: "No problems" }).waitFor();

    // Keyboard: pick a step from the list (nothing is selected now), then disconnect and
    // reconnect it with buttons, no dragging.
    await page.getByRole("button", { name: /^output/ }).press("Enter");
    await page.getByRole("heading", { name: "Output step" }).waitFor();
    const disconnect = page.getByRole("button", { name: "Disconnect model from output" });
    await disconnect.focus();
    await page.keyboard.press("Enter");
    await node(page, "output").getByText("This step is not connected", { exact: false }).waitFor();
    expect(await page.locator(".react-flow__edge").count()).toBe(2);
    await page.getByLabel("Step output runs after").selectOption("model");
    await page.getByRole("button", { name: "Connect", exact: true }).press("Enter");
    await page.getByRole("heading", { name: "No problems" }).waitFor();
    expect(await page.locator(".react-flow__edge").count()).toBe(3);

    // The server's refusal lands on the node it names: a model version that does not exist.
    await node(page, "model").click();
    await page.getByLabel("Model version").fill("99");
    await page.getByRole("button", { name: "Save as new version" }).click();
    await node(page, "model").getByText("churn@99 does not exist", { exact: false }).waitFor();
    expect(await page.getByRole("alert").first().textContent()).toContain(
      "There is no model version",
    );
    expect((await call("GET", "/v1/apps/churn/versions")).json.versions).toHaveLength(1);
    await page.getByLabel("Model version").fill("1");
    await expect
      .poll(() => node(page, "model").getAttribute("class"))
      .not.toContain("has-problems");

    // Save: a new version, deployed.
    await node(page, "validate").click();
    await page.getByRole("button", { name: "Save as new version" }).click();
    await page.getByRole("status").filter({ hasText: "Saved as version 2" }).waitFor();
    expect(await page.locator(".page-header").textContent()).toContain("Live · v2");
    // The designer itself in the picture: graph, settings and YAML (the app header scrolled by).
    await page.evaluate(
      "window.scrollTo(0, document.querySelector('.designer').getBoundingClientRect().top + window.scrollY - 64)",
    );
    await screenshot(page, "designer");
    expect(unexpected(errors)).toEqual([]);
    await context.close();

    const versions = (await call("GET", "/v1/apps/churn/versions")).json.versions as Json[];
    expect(versions.map((v) => [v.version, v.deployed])).toEqual([
      [2, true],
      [1, false],
    ]);
    const spec = versions[0].spec;
    expect(spec.steps.find((s: Json) => s.kind === "validate").with).toEqual({
      unknownCategories: "reject",
      maxRows: 50,
    });
    expect(spec.contract).toEqual({ unknownCategories: "reject" });
    expect(spec.limits).toEqual({ maxRows: 50 });
    expect(spec.model).toEqual({ name: "churn", version: 1 });

    // Predict runs the saved pipeline: unknown categories refused, at most 50 rows.
    const ok = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(ok.status, ok.text).toBe(200);
    const unseen = await call("POST", "/v1/apps/churn/predict", {
      ...CHURN_RECORD,
      contract: "Lifetime",
    });
    expect([400, 422]).toContain(unseen.status);
    expect(JSON.stringify(unseen.json.error.details)).toContain("contract");
    const tooMany = await call("POST", "/v1/apps/churn/predict", {
      rows: Array.from({ length: 51 }, () => CHURN_RECORD),
    });
    expect(tooMany.status).toBe(413);
  });

  it("adds a fallback between model and output and sets policies, saved in the next version", async () => {
    expect((await call("POST", "/v1/apps", { model: "churn@1", app: "guarded" })).status).toBe(201);
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/apps/guarded/design");
    await node(page, "output").waitFor();
    // The policies are in the YAML from the start, with their defaults.
    expect(await yaml(page).inputValue()).toContain("maxInFlight: 64");

    // The runtime's kinds are in the palette; a fallback added after the model goes in
    // between the model and the output.
    const palette = page.getByRole("toolbar", { name: "Add a step" });
    for (const title of ["Session", "Cascade", "HTTP call", "Fallback"]) {
      await palette.getByRole("button", { name: `Add ${title} step` }).waitFor();
    }
    await node(page, "model").click();
    await page.getByRole("heading", { name: "Model step" }).waitFor();
    expect(await page.getByLabel("Timeout (ms)").getAttribute("placeholder")).toBe("2000");
    await palette.getByRole("button", { name: "Add Fallback step" }).click();
    const fallback = node(page, "fallback");
    await fallback.waitFor();
    expect(await page.locator(".react-flow__edge").count()).toBe(4);
    await page.getByRole("heading", { name: "Fallback step" }).waitFor();
    // Its prediction has no default: a problem until it is set.
    await fallback.getByText("prediction is missing", { exact: false }).waitFor();
    await page.getByLabel("Fallback prediction").fill("No");
    await page.getByRole("heading", { name: "No problems" }).waitFor();
    const withFallback = await yaml(page).inputValue();
    expect(withFallback).toMatch(/- id: fallback\n\s+kind: fallback\n\s+after:\n\s+- model/);
    expect(withFallback).toMatch(/- id: output\n\s+kind: output\n\s+after:\n\s+- fallback/);
    expect(withFallback).toContain("prediction: No");

    // The policies tab: a value out of range is a problem on its field and on the tab.
    await page.getByRole("tab", { name: "Policies" }).click();
    const inFlight = page.getByLabel("Most requests in flight");
    expect(await inFlight.inputValue()).toBe("64");
    await inFlight.fill("0");
    await page.locator(".field-error").filter({ hasText: "must be >= 1" }).waitFor();
    expect(await page.getByRole("tab", { name: /Policies/ }).textContent()).toContain("1");
    await inFlight.fill("8");
    await page.getByRole("heading", { name: "No problems" }).waitFor();
    await page.getByLabel("Cache responses").check();
    await page.getByLabel("Accept webhooks").check();
    await page.getByRole("button", { name: "Add a row to rename fields" }).click();
    await page.getByLabel("Rename fields: incoming field 1").fill("months");
    await page.getByLabel("Rename fields: contract field 1").fill("tenure");
    await expect.poll(() => yaml(page).inputValue()).toContain("months: tenure");
    const text = await yaml(page).inputValue();
    expect(text).toContain("maxInFlight: 8");
    expect(text).toMatch(/cache:\n\s+enabled: true/);
    // The YAML changes the policies' form too.
    await yaml(page).fill(text.replace("maxQueueWaitMs: 250", "maxQueueWaitMs: 100"));
    await expect.poll(() => page.getByLabel("Longest wait (ms)").inputValue()).toBe("100");
    await screenshot(page, "designer-policies");

    // Selecting a step shows its settings again.
    await node(page, "fallback").click();
    await page.getByRole("heading", { name: "Fallback step" }).waitFor();
    expect(await page.getByLabel("Fallback prediction").inputValue()).toBe("No");

    await page.getByRole("button", { name: "Save as new version" }).click();
    await page.getByRole("status").filter({ hasText: "Saved as version 2" }).waitFor();
    expect(unexpected(errors)).toEqual([]);
    await context.close();

    const versions = (await call("GET", "/v1/apps/guarded/versions")).json.versions as Json[];
    expect(versions.map((v) => [v.version, v.deployed])).toEqual([
      [2, true],
      [1, false],
    ]);
    const spec = versions[0].spec;
    expect(spec.steps.find((s: Json) => s.kind === "fallback")).toEqual({
      id: "fallback",
      kind: "fallback",
      after: ["model"],
      with: { prediction: "No" },
    });
    expect(spec.steps.find((s: Json) => s.kind === "output").after).toEqual(["fallback"]);
    expect(spec.policies.concurrency).toEqual({
      maxInFlight: 8,
      maxQueue: 64,
      maxQueueWaitMs: 100,
    });
    expect(spec.policies.cache).toMatchObject({ enabled: true, ttlSeconds: 60 });
    expect(spec.webhook).toMatchObject({ enabled: true, rename: { months: "tenure" } });
    // The app answers through its new pipeline.
    const ok = await call("POST", "/v1/apps/guarded/predict", CHURN_RECORD);
    expect(ok.status, ok.text).toBe(200);
  });

  it("opens an app's designer where the stored spec has no steps, and 404s for no app", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    // "quiet" is published the old way: model and limits at the top, no steps.
    expect(
      (await call("POST", "/v1/apps", { model: "churn@1", app: "quiet", maxRows: 7 })).status,
    ).toBe(201);
    await page.goto("/apps/quiet/design");
    await node(page, "validate").waitFor();
    expect(await node(page, "validate").textContent()).toContain("Most rows per request: 7");
    expect(await page.getByRole("button", { name: "Save as new version" }).isDisabled()).toBe(true);
    // Undo brings back what was loaded.
    await node(page, "validate").click();
    await page.getByLabel("Most rows per request").fill("9");
    await node(page, "validate").getByText("Most rows per request: 9").waitFor();
    await page.getByRole("button", { name: "Undo changes" }).click();
    await node(page, "validate").getByText("Most rows per request: 7").waitFor();
    expect(await page.getByRole("button", { name: "Save as new version" }).isDisabled()).toBe(true);
    // A step on the canvas is reachable by keyboard: focus it, Enter selects it.
    await node(page, "model").focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Model step" }).waitFor();
    expect(await node(page, "model").getAttribute("aria-label")).toBe("Model step model");

    // Drag a step from the palette onto the graph: it lands unconnected, a problem until wired.
    await page
      .getByRole("button", { name: "Add Validate step" })
      .dragTo(page.locator(".designer-canvas .react-flow__pane"), {
        targetPosition: { x: 120, y: 230 },
      });
    await node(page, "validate2")
      .getByText("This step is not connected", { exact: false })
      .waitFor();
    await page.keyboard.press("Delete");
    await node(page, "validate2").waitFor({ state: "detached" });

    await page.goto("/apps/nope/design");
    await page.getByText("There is no app named nope").waitFor();
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });
});
