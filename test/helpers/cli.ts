/** Runs the `ballast` CLI from source against a test server, as a user would from a shell. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { TestServer } from "./server.ts";

const run = promisify(execFile);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A runner bound to `server` (its URL and admin key); it never throws on a non-zero exit. */
export function cliFor(server: () => TestServer): (...args: string[]) => Promise<CliResult> {
  return async (...args) => {
    const { url, adminKey } = server();
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ["--import", "tsx", "src/cli/main.ts", "--url", url, "--api-key", adminKey, ...args],
        { env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return {
        code: typeof e.code === "number" ? e.code : 1,
        stdout: e.stdout ?? "",
        stderr: e.stderr ?? "",
      };
    }
  };
}
