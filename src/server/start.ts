/**
 * `ballast serve`: start the server with embedded defaults, print where it is and, on the
 * first start, the admin key (once), and stop cleanly on SIGINT/SIGTERM.
 */

import { createBallast } from "./ballast.ts";
import type { BallastConfig } from "./config.ts";
import { loadConfig } from "./config.ts";

export async function startServer(overrides: Partial<BallastConfig> = {}): Promise<void> {
  const config = loadConfig(overrides);
  const ballast = await createBallast(config);
  const url = await ballast.listen();
  const print = (line = "") => process.stdout.write(`${line}\n`);
  print();
  print(`Ballast is running at ${url}`);
  print(`  Studio:    ${url}  (open it in a browser)`);
  print(`  API docs:  ${url}/docs`);
  print(
    `  Data dir:  ${config.dataDir} (registry: ${config.databaseUrl ? "PostgreSQL" : "SQLite"})`,
  );
  if (ballast.bootstrap.adminKey) {
    print();
    print("Admin API key (shown once; also saved to the data dir as admin.key for the CLI):");
    print(`  ${ballast.bootstrap.adminKey}`);
  }
  if (config.demo) {
    print();
    print("Loading the churn demo; when it is published (about half a minute), try:");
    print(
      `  curl -s ${url}/v1/apps/churn/predict -H "Authorization: Bearer $(cat ${config.dataDir}/admin.key)" \\`,
    );
    print(`    -H 'content-type: application/json' -d "$(head -n1 examples/churn-rows.ndjson)"`);
    print("  or: npx ballast predict churn --file examples/churn-rows.ndjson");
  }
  print();
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    process.stdout.write(`\n${signal}: stopping Ballast…\n`);
    await ballast.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
