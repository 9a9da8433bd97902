/**
 * Flow 6 (keys half) and the quality bar in a real browser: API keys are created with a role
 * (the secret shown once) and revoked; a non-admin sees why they cannot manage keys; pages are
 * keyboard-operable, fit 1280×800 and 1920×1080 without sideways scrolling, and the first page
 * is interactive quickly.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openStudio, screenshot } from "../helpers/browser.ts";
import { api, type Json, startTestServer, type TestServer } from "../helpers/server.ts";
import { homes, toCsv } from "./fixtures.ts";

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  // Something on every page: a dataset, a model trained on it, and its app.
  const call = api(server, server.adminKey);
  const upload = await fetch(new URL("/v1/datasets?filename=homes.csv", server.url), {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}` },
    body: toCsv(homes()),
  });
  expect(upload.status).toBe(201);
  const job = await call("POST", "/v1/train", {
    dataset: "homes",
    target: "price",
    name: "prices",
    timeBudgetSeconds: 3,
  });
  expect(job.status).toBe(202);
  let status: Json;
  do {
    await new Promise((r) => setTimeout(r, 300));
    status = (await call("GET", `/v1/jobs/${job.json.job.id}`)).json.job;
  } while (status.status === "queued" || status.status === "running");
  expect(status.status).toBe("succeeded");
  expect((await call("POST", "/v1/apps", { model: "prices@1" })).status).toBe(201);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const unexpected = (errors: readonly string[]) =>
  errors.filter((e) => !e.includes("Failed to load resource"));

describe("settings", () => {
  it("creates a key with a role, shows it once, and revokes it", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/settings");
    const session = page.getByRole("region", { name: "Session" });
    await session.getByText("local admin").waitFor();
    expect(await session.textContent()).toContain("default");

    const keys = page.getByRole("table", { name: "API keys" });
    await keys.waitFor();
    // The key of this session cannot be revoked from here (that would lock you out).
    const own = keys.getByRole("row").filter({ hasText: "(this session)" });
    expect(await own.getByRole("button").count()).toBe(0);

    await page.getByLabel("Name").fill("billing service");
    await page.getByLabel("Role").selectOption("invoker");
    await page.getByRole("button", { name: "Create key" }).click();
    const created = page.getByTestId("created-key");
    await created.waitFor();
    const secret = (await created.locator("code").textContent()) ?? "";
    expect(secret).toMatch(/^blst_/);
    const row = keys.getByRole("row").filter({ hasText: "billing service" });
    await row.waitFor();
    expect(await row.textContent()).toContain("invoker");
    expect(await row.textContent()).toContain("Active");
    // The secret is real, and the table shows only its prefix.
    const asInvoker = api(server, secret);
    const who = await asInvoker("GET", "/v1/session");
    expect(who.status).toBe(200);
    expect(who.json.key.role).toBe("invoker");
    expect(await keys.textContent()).not.toContain(secret);
    await screenshot(page, "settings");

    await row.getByRole("button", { name: "Revoke billing service" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke billing service?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Revoke key" }).click();
    await expect.poll(() => row.textContent()).toContain("Revoked");
    expect((await asInvoker("GET", "/v1/session")).status).toBe(401);
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });

  it("tells a viewer that only admins manage keys", async () => {
    const created = await api(server, server.adminKey)("POST", "/v1/keys", {
      role: "viewer",
      name: "auditor",
    });
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/");
    // Signed in as the local admin first; switch to the viewer's key.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").fill(created.json.secret);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Data" }).waitFor();
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Settings" })
      .click();
    await page.getByText("Only an admin can see and manage the workspace's keys.").waitFor();
    expect(await page.getByRole("table", { name: "API keys" }).count()).toBe(0);
    expect(await page.getByRole("banner").textContent()).toContain("viewer");
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });
});

describe("quality bar", () => {
  it("the first page is interactive within 1.5 s of a cold start on loopback", async () => {
    // Each try is a new browser context (empty cache, no session): sign-in, data, assets.
    // The best of three, so a test machine busy with other suites does not decide.
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { page, context } = await openStudio(browser, server.url);
      const started = Date.now();
      await page.goto("/data");
      await page.getByRole("button", { name: "Choose a file" }).click({ trial: true });
      await page.getByRole("link", { name: "homes" }).waitFor();
      times.push(Date.now() - started);
      await context.close();
    }
    expect(Math.min(...times), `load times: ${times.join(", ")} ms`).toBeLessThan(1500);
  });

  it("is keyboard-operable: a skip link, and tabs that follow the arrow keys", async () => {
    const { page, context } = await openStudio(browser, server.url);
    await page.goto("/data/homes");
    await page.getByRole("heading", { level: 1, name: "homes" }).waitFor();
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    expect(await skip.evaluate((el) => el.matches(":focus"))).toBe(true);
    await page.keyboard.press("Enter");
    expect(new URL(page.url()).hash).toBe("#main");

    const columns = page.getByRole("tab", { name: "Columns" });
    await columns.focus();
    await page.keyboard.press("ArrowRight");
    const preview = page.getByRole("tab", { name: "Preview" });
    await expect.poll(() => preview.getAttribute("aria-selected")).toBe("true");
    expect(await preview.evaluate((el) => el.matches(":focus"))).toBe(true);
    await page
      .getByRole("tabpanel")
      .getByText(/Rows 1–50 of 240/)
      .waitFor();
    await preview.focus();
    await page.keyboard.press("End");
    const predict = page.getByRole("tab", { name: "Predict" });
    await expect.poll(() => predict.getAttribute("aria-selected")).toBe("true");
    // Every form control on the Predict tab has an accessible name.
    await page.getByLabel("Column to predict").selectOption("price");
    await page.getByTestId("task").waitFor();
    const unnamed = await page.evaluate(`
      [...document.querySelectorAll("main input, main select, main button")]
        .filter((el) => !el.closest("[aria-hidden=true]"))
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.textContent.trim())
        .map((el) => el.outerHTML.slice(0, 80))
    `);
    expect(unnamed).toEqual([]);
    await context.close();
  });

  it("builds the try-it form from the input schema: a yes/no input is a checkbox", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/apps/prices");
    const form = page.getByRole("form", { name: "Try the app" });
    const garden = form.getByRole("checkbox", { name: "garden" });
    await garden.waitFor();
    expect(await form.getByLabel("city").evaluate((el) => el.tagName)).toBe("SELECT");
    expect(await form.getByLabel("area").getAttribute("type")).toBe("number");
    await form.getByLabel("area").fill("80");
    await form.getByLabel("city").selectOption("Nice");
    await garden.check();
    await form.getByRole("button", { name: "Predict" }).click();
    const answer = page.getByTestId("answer");
    await answer.waitFor();
    // A regression answers a number, with what pushed it up or down.
    expect(await answer.textContent()).toMatch(/Prediction\d[\d,.]*/);
    expect(await page.getByRole("list", { name: "Probability of each class" }).count()).toBe(0);
    await page.getByRole("list", { name: "Contribution of each input" }).waitFor();
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });

  for (const viewport of [
    { width: 1280, height: 800 },
    { width: 1920, height: 1080 },
  ]) {
    it(`fits ${viewport.width}×${viewport.height} without sideways scrolling`, async () => {
      const { page, context, errors } = await openStudio(browser, server.url, { viewport });
      const overflow = (p: Page) =>
        p.evaluate("document.documentElement.scrollWidth - window.innerWidth") as Promise<number>;
      const pages: [string, string][] = [
        ["/data", "Data"],
        ["/data/homes", "homes"],
        ["/data/homes?tab=preview", "homes"],
        ["/models", "Models"],
        ["/models/prices%401", "prices"],
        ["/apps", "Apps"],
        ["/apps/prices", "prices"],
        ["/apps/prices/monitor", "prices"],
        ["/apps/prices/design", "prices"],
        ["/settings", "Settings"],
      ];
      for (const [route, heading] of pages) {
        await page.goto(route);
        await page.getByRole("heading", { level: 1, name: heading }).waitFor();
        await page.waitForLoadState("networkidle");
        expect(await overflow(page), route).toBeLessThanOrEqual(0);
      }
      if (viewport.width === 1920) {
        await page.goto("/models/prices%401");
        await page.getByTestId("summary").waitFor();
        await screenshot(page, "model-report-1920");
      }
      expect(unexpected(errors)).toEqual([]);
      await context.close();
    });
  }
});
