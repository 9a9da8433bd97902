/**
 * `ballast events list|show|replay` against a real server: a person finds the quarantined
 * event, reads why, fixes its payload in a file and replays it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { cliFor } from "./helpers/cli.ts";
import { api, startTestServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;
const ballast = cliFor(() => server);
const dir = mkdtempSync(path.join(os.tmpdir(), "ballast-events-cli-"));

async function statusOf(id: string): Promise<string | undefined> {
  const r = await api(server, server.adminKey)("GET", `/v1/apps/churn/events/${id}`);
  return r.json?.event?.status;
}

async function waitForStatus(id: string, status: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await statusOf(id)) !== status) {
    if (Date.now() > deadline) throw new Error(`${id} never became ${status}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  server = await startTestServer({
    webhookTimings: { leaseMs: 2000, retryBaseMs: 30, retryMaxMs: 200, pollMs: 200 },
  });
  await publishChurn(server);
  const call = api(server, server.adminKey);
  const saved = await call("POST", "/v1/apps/churn/versions", {
    spec: {
      apiVersion: "ballast/v1",
      kind: "App",
      name: "churn",
      model: { name: "churn", version: 1 },
      webhook: { enabled: true },
    },
  });
  if (saved.status !== 201) throw new Error(saved.text);
  const ok = await call("POST", "/v1/hooks/churn", CHURN_RECORD, { "idempotency-key": "cli-ok" });
  const bad = await call(
    "POST",
    "/v1/hooks/churn",
    { ...CHURN_RECORD, tenure: "long" },
    { "idempotency-key": "cli-bad" },
  );
  if (ok.status !== 202 || bad.json?.status !== "quarantined") throw new Error("intake failed");
  await waitForStatus("cli-ok", "done");
}, 120_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

it("lists events, filters by status, and shows one", async () => {
  const all = await ballast("events", "list", "churn");
  expect(all.code, all.stderr).toBe(0);
  expect(all.stdout).toMatch(/ID\s+STATUS\s+ATTEMPTS\s+CALLBACK\s+CREATED\s+DETAIL/);
  expect(all.stdout).toMatch(/cli-ok\s+done\s+1\/5\s+.*prediction (Yes|No)/);
  expect(all.stdout).toMatch(/cli-bad\s+quarantined\s+0\/5\s+.*\/tenure must be number/);

  const quarantined = await ballast("events", "list", "churn", "--status", "quarantined");
  expect(quarantined.code).toBe(0);
  expect(quarantined.stdout).toContain("cli-bad");
  expect(quarantined.stdout).not.toContain("cli-ok");
  expect((await ballast("events", "list", "churn", "--status", "dead")).stdout).toContain(
    "No dead events for churn.",
  );

  const shown = await ballast("events", "show", "churn", "cli-bad");
  expect(shown.code, shown.stderr).toBe(0);
  const event = JSON.parse(shown.stdout);
  expect(event).toMatchObject({
    id: "cli-bad",
    status: "quarantined",
    payload: { tenure: "long" },
  });
  expect(event.problems).toEqual([{ path: "/tenure", message: "must be number" }]);
});

it("replays a quarantined event with a fixed payload file; a payload still wrong is refused", async () => {
  const stillWrong = path.join(dir, "still-wrong.json");
  writeFileSync(stillWrong, JSON.stringify({ ...CHURN_RECORD, contract: undefined }));
  const refused = await ballast("events", "replay", "churn", "cli-bad", "--payload", stillWrong);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("still does not match");
  expect(refused.stderr).toContain("/contract: is required");
  expect(await statusOf("cli-bad")).toBe("quarantined");

  const fixed = path.join(dir, "fixed.json");
  writeFileSync(fixed, JSON.stringify({ ...CHURN_RECORD, tenure: 3 }));
  const replayed = await ballast("events", "replay", "churn", "cli-bad", "--payload", fixed);
  expect(replayed.code, replayed.stderr).toBe(0);
  expect(replayed.stdout).toContain("Replayed cli-bad: queued");
  await waitForStatus("cli-bad", "done");
});

it("fails clearly for what is not there", async () => {
  const missing = await ballast("events", "show", "churn", "nope");
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('Event "nope" does not exist');
  const noFile = await ballast(
    "events",
    "replay",
    "churn",
    "cli-ok",
    "--payload",
    path.join(dir, "x"),
  );
  expect(noFile.code).toBe(1);
  expect(noFile.stderr).toContain("No such file");
  const done = await ballast("events", "replay", "churn", "cli-ok");
  expect(done.code).toBe(1);
  expect(done.stderr).toContain("only quarantined and dead events are replayed");
  const badStatus = await ballast("events", "list", "churn", "--status", "finished");
  expect(badStatus.code).toBe(1);
});
