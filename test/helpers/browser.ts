/**
 * Debian's Chromium driven by playwright-core, for the Studio's browser tests: one browser per
 * test file, a fresh context (own sessionStorage) per flow, screenshots into docs/screenshots.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from "playwright-core";

export const CHROMIUM = process.env.BALLAST_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.resolve("docs/screenshots");
export const VIEWPORT = { width: 1280, height: 800 } as const;

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install Debian's chromium package (.ci/run does) or set BALLAST_CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

export interface StudioPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Messages the page logged as errors, and uncaught exceptions: a test asserts there are none. */
  readonly errors: string[];
}

/** A new browser context on the Studio at `url` (nothing stored: the session starts fresh). */
export async function openStudio(
  browser: Browser,
  url: string,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<StudioPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? VIEWPORT,
    deviceScaleFactor: 1,
    baseURL: url,
    // The copy buttons use the clipboard API.
    permissions: ["clipboard-read", "clipboard-write"],
  });
  // Generous: on a 2-core CI machine the other test project trains models at the same time.
  context.setDefaultTimeout(45_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  return { context, page, errors };
}

/** Save a screenshot of the viewport as docs/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  // Let lazy charts and fonts settle so the picture shows the finished page.
  // (Browser-side code is passed as text: this file is type-checked without the DOM library.)
  await page.evaluate("document.fonts.ready.then(() => true)");
  await page.waitForLoadState("networkidle").catch(() => {});
  await page.screenshot({ path: file, fullPage: false, animations: "disabled" });
  return file;
}

/** Scroll so the element is at the top of the page, below the sticky header. */
export async function scrollToTop(locator: Locator): Promise<void> {
  await locator.evaluate(
    "(el) => { el.scrollIntoView({ block: 'start' }); window.scrollBy(0, -72); }",
  );
}

/** Drop a file on an element the way a person drags one from their desktop. */
export async function dropFile(
  page: Page,
  selector: string,
  file: { name: string; mimeType: string; contents: string },
): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    `(() => {
      const f = ${JSON.stringify(file)};
      const dt = new DataTransfer();
      dt.items.add(new File([f.contents], f.name, { type: f.mimeType }));
      return dt;
    })()`,
  );
  await page.dispatchEvent(selector, "dragenter", { dataTransfer });
  await page.dispatchEvent(selector, "dragover", { dataTransfer });
  await page.dispatchEvent(selector, "drop", { dataTransfer });
}
