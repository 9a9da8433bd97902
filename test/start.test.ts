/**
 * `ballast serve` as a person runs it: the first start prints the admin key once and
 * publishes the churn demo, which then answers; a restart keeps everything and prints no key.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";

const dataDir = mkdtempSync(path.join(os.tmpdir(), "ballast-start-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function serve(): {
  child: ChildProcess;
  output: () => string;
  waitFor: (re: RegExp, ms: number) => Promise<RegExpExecArray>;
} {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "serve", "--port", "0"],
    {
      env: {
        ...process.env,
        BALLAST_DATA_DIR: dataDir,
        BALLAST_DEMO_TIME_BUDGET_MS: "3000",
        BALLAST_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let text = "";
  child.stdout?.on("data", (c: Buffer) => {
    text += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    text += c.toString();
  });
  return {
    child,
    output: () => text,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const tick = setInterval(() => {
          const m = re.exec(text);
          if (m) {
            clearInterval(tick);
            resolve(m);
          } else if (Date.now() - started > ms || child.exitCode !== null) {
            clearInterval(tick);
            reject(new Error(`waited for ${re} but got:\n${text}`));
          }
        }, 50);
      }),
  };
}

async function stop(child: ChildProcess) {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

it("first start: admin key printed once, demo published within a minute; restart keeps it", async () => {
  const started = Date.now();
  const first = serve();
  const [, url] = await first.waitFor(/Ballast is running at (\S+)/, 30_000);
  const [, key] = await first.waitFor(/Admin API key[^\n]*\n\s+(blst_\S+)/, 5_000);
  expect(readFileSync(path.join(dataDir, "admin.key"), "utf8").trim()).toBe(key);
  await first.waitFor(/\[demo\] published app "churn"/, 60_000);
  expect(Date.now() - started).toBeLessThan(60_000);
  const row = JSON.parse(
    readFileSync("examples/churn-rows.ndjson", "utf8").split("\n")[0] as string,
  );
  const response = await fetch(`${url}/v1/apps/churn/predict`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(row),
  });
  expect(response.status).toBe(200);
  const home = await (await fetch(`${url}/`)).text();
  expect(home).toContain("Ballast is running");
  await stop(first.child);

  const second = serve();
  const [, url2] = await second.waitFor(/Ballast is running at (\S+)/, 30_000);
  await new Promise((r) => setTimeout(r, 300));
  expect(second.output()).not.toContain("Admin API key");
  expect(second.output()).not.toContain("[demo] training");
  const again = await fetch(`${url2}/v1/apps/churn/predict`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(row),
  });
  expect(again.status).toBe(200);
  await stop(second.child);
}, 120_000);
