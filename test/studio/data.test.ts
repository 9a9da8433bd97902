/**
 * Flows 1 and 6 (sign-in half) in a real browser: the local admin is signed in on loopback;
 * signing out sticks; a wrong key is refused with the API's words; data comes in by drag and
 * drop or the file picker (CSV, Parquet, JSON); a bad file shows the line at fault and saves
 * nothing; the dataset page shows the preview, the inferred types (changeable) and a profile.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, TestFiles } from "../../src/data/test-files.ts";
import { dropFile, launchBrowser, openStudio, screenshot } from "../helpers/browser.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { homes, toCsv } from "./fixtures.ts";

let server: TestServer;
let browser: Browser;
const files = new TestFiles();

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  files.remove();
});

/** Console errors other than the browser's note about a refused request (those are expected). */
const unexpected = (errors: readonly string[]) =>
  errors.filter((e) => !e.includes("Failed to load resource"));

describe("signing in", () => {
  it("signs the local admin in on loopback; sign-out sticks; a key signs in", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/");
    await page.getByRole("heading", { level: 1, name: "Data" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/data");
    const banner = page.getByRole("banner");
    await expect.poll(() => banner.textContent()).toContain("local admin");
    expect(await banner.textContent()).toContain("admin");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    // A reload must not sign the local admin straight back in.
    await page.reload();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByRole("button", { name: "Continue as the local admin" }).waitFor();

    // Nothing typed: the field says so, without a request.
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByText("Paste an API key").waitFor();

    await page.getByLabel("API key").fill("blst_not-a-real-key");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("This key was not accepted");
    await screenshot(page, "sign-in");

    await page.getByLabel("API key").fill(server.adminKey);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Data" }).waitFor();
    // The key lives in this tab's sessionStorage: a reload keeps the session.
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Data" }).waitFor();
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });
});

describe("data", () => {
  it("shows an empty state, refuses a bad file naming the line, and saves nothing", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/data");
    await page.getByRole("heading", { name: "No datasets yet" }).waitFor();
    await page.getByText("Telco customer churn").waitFor();
    await screenshot(page, "data-empty");

    await dropFile(page, "[data-testid=dropzone]", {
      name: "ragged.csv",
      mimeType: "text/csv",
      contents: lines("a,b", "1,2", "3,4,5", "6,7"),
    });
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const text = await alert.textContent();
    expect(text).toContain("ragged.csv was not imported");
    expect(text).toContain("Line 3 has 3 fields but the header has 2");
    expect(text).toContain("line 3");
    const listed = await api(server, server.adminKey)("GET", "/v1/datasets");
    expect(listed.json.datasets).toEqual([]);
    await page.getByRole("heading", { name: "No datasets yet" }).waitFor();

    // An empty file is caught before anything is sent.
    await page.locator("input[type=file]").setInputFiles({
      name: "empty.csv",
      mimeType: "text/csv",
      buffer: Buffer.alloc(0),
    });
    await expect.poll(() => alert.textContent()).toContain("empty.csv is empty");
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });

  it("imports a dropped CSV and shows its types, profile and rows; a type can be changed", async () => {
    const { page, context, errors } = await openStudio(browser, server.url);
    await page.goto("/data");
    await page.getByRole("heading", { name: "No datasets yet" }).waitFor();
    await dropFile(page, "[data-testid=dropzone]", {
      name: "homes.csv",
      mimeType: "text/csv",
      contents: toCsv(homes()),
    });
    await page.getByRole("heading", { level: 1, name: "homes" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/data/homes");
    expect(await page.getByText(/240 rows · 6 columns · CSV/).count()).toBe(1);

    // Inferred types, each in a select a person can change.
    const typeOf = (column: string) => page.getByLabel(`Type of ${column}`);
    expect(await typeOf("area").inputValue()).toBe("number");
    expect(await typeOf("city").inputValue()).toBe("category");
    expect(await typeOf("garden").inputValue()).toBe("boolean");
    // The profile: missing share, distinct count, a histogram for numbers, top values otherwise.
    const cityRow = page.locator("tr[data-column=city]");
    expect(await cityRow.textContent()).toMatch(/0%\s*4/);
    await cityRow.getByRole("list", { name: "Most frequent values of city" }).waitFor();
    const areaRow = page.locator("tr[data-column=area]");
    await areaRow
      .getByRole("figure", { name: "Histogram of area" })
      .locator("svg")
      .first()
      .waitFor();
    expect(await areaRow.locator(".recharts-bar-rectangle").count()).toBeGreaterThan(3);
    await screenshot(page, "dataset");

    // rooms is a count; treat it as a category.
    await typeOf("rooms").selectOption("category");
    await expect
      .poll(async () => (await typeOf("rooms").isEnabled()) && typeOf("rooms").inputValue())
      .toBe("category");
    const stored = await api(server, server.adminKey)("GET", "/v1/datasets/homes");
    expect(stored.json.dataset.columns.find((c: { name: string }) => c.name === "rooms").type).toBe(
      "category",
    );
    await page.locator("tr[data-column=rooms]").getByRole("list").waitFor();
    // A type the values cannot take is refused with the server's reason, and nothing changes.
    await typeOf("city").selectOption("number");
    const refused = page.getByRole("alert");
    await refused.waitFor();
    expect(await refused.textContent()).toContain("The type of city was not changed");
    expect(await typeOf("city").inputValue()).toBe("category");
    const after = await api(server, server.adminKey)("GET", "/v1/datasets/homes");
    expect(after.json.dataset.columns.find((c: { name: string }) => c.name === "city").type).toBe(
      "category",
    );

    await page.getByRole("tab", { name: "Preview" }).click();
    await page.getByText("Rows 1–50 of 240").waitFor();
    const firstRow = page.locator("tbody tr").first();
    expect(await firstRow.textContent()).toContain("1000");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByText("Rows 51–100 of 240").waitFor();
    expect(await page.locator("tbody tr").first().textContent()).toContain("1050");
    await screenshot(page, "dataset-preview");
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });

  it("imports Parquet and JSON with the file picker and lists every dataset", async () => {
    const parquet = await files.copy(
      "readings.parquet",
      "SELECT i AS sensor, i * 0.5 AS temperature, CASE WHEN i % 3 = 0 THEN 'hot' ELSE 'ok' END AS state FROM range(60) t(i)",
    );
    const json = files.write(
      "orders.json",
      JSON.stringify(
        Array.from({ length: 30 }, (_, i) => ({ order: i, amount: i * 2.5, paid: i % 2 === 0 })),
      ),
    );
    const { page, context, errors } = await openStudio(browser, server.url);
    for (const [file, name, rows] of [
      [parquet, "readings", 60],
      [json, "orders", 30],
    ] as const) {
      await page.goto("/data");
      await page.getByRole("button", { name: "Choose a file" }).waitFor();
      await page.locator("input[type=file]").setInputFiles(file);
      await page.getByRole("heading", { level: 1, name }).waitFor();
      await page.getByText(new RegExp(`${rows} rows · 3 columns`)).waitFor();
      const numeric = name === "readings" ? "temperature" : "amount";
      expect(await page.getByLabel(`Type of ${numeric}`).inputValue()).toBe("number");
    }
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Data" })
      .click();
    const table = page.getByRole("table");
    await table.waitFor();
    for (const name of ["readings", "orders"]) {
      await table.getByRole("link", { name }).waitFor();
    }
    expect(await table.textContent()).toContain("PARQUET");
    await screenshot(page, "data");

    // Delete, after a confirmation.
    await table.getByRole("link", { name: "orders" }).click();
    await page.getByRole("heading", { level: 1, name: "orders" }).waitFor();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete orders?" });
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete dataset" }).click();
    await page.getByRole("heading", { level: 1, name: "Data" }).waitFor();
    await table.getByRole("link", { name: "readings" }).waitFor();
    expect(await table.getByRole("link", { name: "orders" }).count()).toBe(0);
    expect((await api(server, server.adminKey)("GET", "/v1/datasets/orders")).status).toBe(404);
    expect(unexpected(errors)).toEqual([]);
    await context.close();
  });
});
