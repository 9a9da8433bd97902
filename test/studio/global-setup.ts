/**
 * Builds the Studio (vite build → dist/web) before the browser tests when the build is missing
 * or older than any file under web/, so the tests always drive the code in the working tree.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const WEB = path.join(ROOT, "web");
const BUILT = path.join(ROOT, "dist/web/index.html");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (!entry.name.endsWith(".test.ts")) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

export function isStale(): boolean {
  return !existsSync(BUILT) || statSync(BUILT).mtimeMs < newestMtime(WEB);
}

export default function setup(): void {
  if (!isStale()) return;
  const result = spawnSync(
    process.execPath,
    [path.join(ROOT, "node_modules/vite/bin/vite.js"), "build", "--config", "web/vite.config.ts"],
    // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
    { cwd: ROOT, stdio: "inherit", env: { ...process.env, NODE_ENV: "production" } },
  );
  if (result.status !== 0) throw new Error(`vite build failed (exit ${result.status})`);
}
