/**
 * The Studio as the server serves it: the built app at / and at every page's address (so a
 * reload works), hashed assets with long caching, the sample data sets, and the API's own 404s
 * left alone.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppPath } from "../../src/server/routes/studio.ts";
import { type Json, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const get = (route: string, init?: RequestInit) => fetch(new URL(route, server.url), init);

describe("serving the Studio", () => {
  it("serves the app with a server-rendered summary for clients without JavaScript", async () => {
    const response = await get("/");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    const html = await response.text();
    expect(html).toContain('<div id="root"></div>');
    expect(html).toMatch(/<script type="module"[^>]+src="\/assets\/index-[\w-]+\.js"/);
    expect(html).toContain("<noscript>");
    expect(html).toContain("Ballast is running");
    expect(html).not.toContain("<!--ballast:noscript-->");
  });

  it("answers every page address with the app, so a reload or a shared link works", async () => {
    for (const route of [
      "/data",
      "/data/churn?tab=build",
      "/models/churn%401",
      "/apps/x/monitor",
    ]) {
      const response = await get(route);
      expect(response.status, route).toBe(200);
      expect(await response.text(), route).toContain('<div id="root"></div>');
    }
  });

  it("serves hashed assets cached for a year, and 404s for missing ones", async () => {
    const html = await (await get("/")).text();
    const script = /src="(\/assets\/index-[\w-]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await get(script ?? "");
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect(asset.headers.get("cache-control")).toContain("max-age=31536000");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    const missing = await get("/assets/nope-123.js");
    expect(missing.status).toBe(404);
  });

  it("leaves the API, docs and health routes as they are", async () => {
    const api = await get("/v1/nothing-here");
    expect(api.status).toBe(404);
    expect(api.headers.get("content-type")).toContain("application/json");
    expect(((await api.json()) as Json).error.code).toBe("not_found");
    expect((await get("/v1/datasets")).status).toBe(401);
    expect((await get("/healthz")).status).toBe(200);
    expect((await get("/openapi.json")).headers.get("content-type")).toContain("json");
    const docs = await get("/docs", { redirect: "follow" });
    expect(docs.status).toBe(200);
    expect(await docs.text()).not.toContain('<div id="root"></div>');
    // Something that looks like a file is not a page.
    expect((await get("/favicon.ico")).status).toBe(404);
    // Other methods are not the app either.
    expect((await get("/data", { method: "POST" })).status).toBe(404);
  });

  it("lists the bundled samples and serves their bytes", async () => {
    const list = (await (await get("/studio/samples")).json()) as Json;
    const churn = list.samples.find((s: { name: string }) => s.name === "wa_churn.csv");
    expect(churn).toMatchObject({ format: "csv", target: "churn", title: "Telco customer churn" });
    const file = await get("/studio/samples/wa_churn.csv");
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toContain("text/csv");
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(bytes.equals(readFileSync(path.resolve("examples/data/wa_churn.csv")))).toBe(true);
  });

  it("refuses sample names that are not samples, path tricks included", async () => {
    for (const name of ["nope.csv", "..%2F..%2Fpackage.json", "README.md", "%2Fetc%2Fpasswd"]) {
      const response = await get(`/studio/samples/${name}`);
      expect(response.status, name).toBe(404);
      const body = (await response.json()) as Json;
      expect(body.error.code).toBe("not_found");
      expect(body.error.details[0].path).toBe("name");
    }
  });
});

describe("isAppPath", () => {
  it("is true for pages and false for the API, assets and files", () => {
    expect(isAppPath("/")).toBe(true);
    expect(isAppPath("/data/churn?tab=preview")).toBe(true);
    expect(isAppPath("/models/churn@1")).toBe(true);
    expect(isAppPath("/v1")).toBe(false);
    expect(isAppPath("/v1/apps")).toBe(false);
    expect(isAppPath("/assets/x")).toBe(false);
    expect(isAppPath("/robots.txt")).toBe(false);
  });
});
