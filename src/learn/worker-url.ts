/**
 * Where to start a worker thread whose module sits next to the caller's, so that it loads
 * both in the compiled build (.js) and from the TypeScript sources under tsx or vitest (.ts).
 * Node 20 does not pass `--import` loader hooks on to workers, so for a .ts caller the worker
 * starts from a tiny ESM bootstrap (a data: URL) that registers tsx inside the worker first.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

/**
 * The URL to give `new Worker(...)` for the module `relative` (written without extension,
 * e.g. "./histogram-worker") next to the module whose `import.meta.url` is `base`.
 */
export function workerUrl(base: string, relative: string): URL {
  if (!base.endsWith(".ts")) return new URL(`${relative}.js`, base);
  const source = new URL(`${relative}.ts`, base).href;
  // The ESM entry of tsx's API, found next to the CommonJS one that require.resolve gives.
  const tsx = pathToFileURL(
    createRequire(base)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  ).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(source)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}
