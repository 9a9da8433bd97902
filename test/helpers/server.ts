/**
 * Starts a real Ballast server on a loopback port with its own temporary data directory, as
 * the integration tests' "thing under test".
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Ballast } from "../../src/server/ballast.ts";
import { createBallast } from "../../src/server/ballast.ts";
import type { BallastConfig } from "../../src/server/config.ts";
import { loadConfig } from "../../src/server/config.ts";

export interface TestServer {
  readonly url: string;
  readonly adminKey: string;
  readonly dataDir: string;
  readonly ballast: Ballast;
  close(): Promise<void>;
}

export async function startTestServer(overrides: Partial<BallastConfig> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "ballast-test-"));
  const ballast = await createBallast(
    loadConfig({
      port: 0,
      demo: false,
      logLevel: process.env.TEST_LOG_LEVEL ?? "silent",
      ...overrides,
      dataDir,
    }),
  );
  const url = await ballast.listen();
  const adminKey = ballast.bootstrap.adminKey;
  if (!adminKey) throw new Error("a fresh data dir must produce an admin key");
  return {
    url,
    adminKey,
    dataDir,
    ballast,
    async close() {
      await ballast.close();
      if (!overrides.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const CHURN_CSV = path.resolve("examples/data/wa_churn.csv");

// biome-ignore lint/suspicious/noExplicitAny: tests inspect response bodies ad hoc.
export type Json = any;

/** fetch with the key and JSON handling, for terse tests. */
export function api(server: { url: string }, key: string | undefined) {
  return async (
    method: string,
    route: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const init: RequestInit = {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined && typeof body !== "string"
          ? { "content-type": "application/json" }
          : {}),
        ...headers,
      },
      ...(body !== undefined
        ? { body: typeof body === "string" ? body : JSON.stringify(body) }
        : {}),
    };
    const response = await fetch(new URL(route, server.url), init);
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json: json as Json };
  };
}
