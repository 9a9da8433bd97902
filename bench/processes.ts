/**
 * What the serving benchmarks do with the processes they measure: start one and wait for the
 * line saying it listens, and read its CPU time from /proc.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * Start `node args` (through tsx unless `compiled`) and resolve once its stdout matches
 * `ready`; reject if it exits first or takes more than a minute.
 */
export function startProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  compiled = false,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, compiled ? args : ["--import", "tsx", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} did not start`)), 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = ready.exec(buffer);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
}

const CLOCK_TICKS = Number(process.env.BENCH_CLOCK_TICKS ?? 100);

/** User + system CPU of a process, all threads, in µs (Linux /proc; undefined elsewhere). */
export function cpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * Ballast as `npm start` runs it (the compiled build, without tsx), on a free loopback port,
 * without the demo, keeping its data in `dataDir`; `nodeArgs` go to Node (a profiler).
 */
export async function startBallast(
  dataDir: string,
  nodeArgs: string[] = [],
): Promise<{ child: ChildProcess; base: string }> {
  const { child, match } = await startProcess(
    [...nodeArgs, "bin/ballast.js", "serve", "--port", "0", "--no-demo"],
    {
      BALLAST_DATA_DIR: dataDir,
      BALLAST_LOG_LEVEL: "warn",
      // The workspace bucket is checked on every request, above what the load reaches.
      BALLAST_WORKSPACE_RPS: "1000000",
      BALLAST_WORKSPACE_BURST: "1000000",
    },
    /Ballast is running at (\S+)/,
    true,
  );
  return { child, base: match[1] as string };
}
