/**
 * A Ballast server in its own process (`ballast serve` from the sources), for the tests whose
 * load generator must not share the server's event loop (overload) and those that run two
 * replicas or kill the server (rate limits across replicas, crash recovery).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHURN_CSV } from "./server.ts";

export interface ServerProcess {
  readonly url: string;
  readonly adminKey: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM and wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

export async function startServerProcess(
  options: { dataDir?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "ballast-proc-"));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "serve", "--port", "0", "--no-demo"],
    {
      env: {
        ...process.env,
        BALLAST_DATA_DIR: dataDir,
        BALLAST_LOG_LEVEL: "warn",
        ...options.env,
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
  const url = await new Promise<string>((resolve, reject) => {
    const started = Date.now();
    const tick = setInterval(() => {
      const m = /Ballast is running at (\S+)/.exec(text);
      if (m?.[1]) {
        clearInterval(tick);
        resolve(m[1]);
      } else if (Date.now() - started > (options.timeoutMs ?? 60_000) || child.exitCode !== null) {
        clearInterval(tick);
        child.kill("SIGKILL");
        reject(new Error(`the server did not start:\n${text}`));
      }
    }, 50);
  });
  const adminKey = readFileSync(path.join(dataDir, "admin.key"), "utf8").trim();
  return {
    url,
    adminKey,
    dataDir,
    child,
    output: () => text,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Upload, train and publish the churn app on a server reached only over HTTP. */
export async function publishChurnOver(
  server: { url: string; adminKey: string },
  timeBudgetSeconds = 2,
): Promise<void> {
  const auth = { authorization: `Bearer ${server.adminKey}` };
  const json = { ...auth, "content-type": "application/json" };
  const upload = await fetch(new URL("/v1/datasets?name=churn&filename=wa_churn.csv", server.url), {
    method: "POST",
    headers: auth,
    body: readFileSync(CHURN_CSV),
  });
  if (upload.status !== 201) throw new Error(`churn upload answered ${upload.status}`);
  const train = await fetch(new URL("/v1/train", server.url), {
    method: "POST",
    headers: json,
    body: JSON.stringify({ dataset: "churn", target: "churn", timeBudgetSeconds }),
  });
  const { job } = (await train.json()) as { job: { id: string } };
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = (await (
      await fetch(new URL(`/v1/jobs/${job.id}`, server.url), { headers: auth })
    ).json()) as { job: { status: string } };
    if (r.job.status === "succeeded") break;
    if (r.job.status === "failed" || Date.now() > deadline)
      throw new Error(`churn training ended ${r.job.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const publish = await fetch(new URL("/v1/apps", server.url), {
    method: "POST",
    headers: json,
    body: JSON.stringify({ model: "churn@1" }),
  });
  if (publish.status !== 201) throw new Error(`churn publish answered ${publish.status}`);
}
