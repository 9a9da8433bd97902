/**
 * The test upstream in a process of its own (`tsx test/helpers/upstream-main.ts <delayMs>`), for
 * load tests whose generator would otherwise delay the upstream's answers on a shared event loop.
 * Prints `UPSTREAM <url>` once listening; answers every call after `delayMs`.
 */
import { startUpstream } from "./upstream.ts";

const delayMs = Number(process.argv[2] ?? 20);
const upstream = await startUpstream({ kind: "slow", delayMs, prediction: "Yes" });
process.stdout.write(`UPSTREAM ${upstream.url}\n`);
process.on("SIGTERM", () => {
  void upstream.close().then(() => process.exit(0));
});
