/**
 * `/`: the Studio (the built web app, see studio.ts). The server renders a short <noscript>
 * summary into its page, so curl and people without JavaScript still see what is running;
 * when the Studio has not been built (`npm run build`), that summary is the whole page.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { studioRoutes } from "./studio.ts";

export interface HomeInfo {
  readonly version: string;
  readonly registry: string;
  readonly dataDir: string;
  apps(): Promise<readonly { name: string; version: number; model: string }[]>;
  /** Defaults to dist/web and examples/data in the package. */
  readonly webRoot?: string;
  readonly samplesDir?: string;
}

const PACKAGE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

async function summary(info: HomeInfo, studioBuilt: boolean): Promise<string> {
  const apps = await info.apps();
  const list = apps.length
    ? apps
        .map(
          (a) =>
            `<li><code>POST /v1/apps/${escapeHtml(a.name)}/predict</code> — ${escapeHtml(a.name)} v${a.version} serving ${escapeHtml(a.model)}</li>`,
        )
        .join("")
    : "<li>No apps published yet.</li>";
  return `<h1>Ballast is running</h1>
<p>${studioBuilt ? "The Studio needs JavaScript. " : "The Studio has not been built: run <code>npm run build</code>. "}Version ${escapeHtml(info.version)}. Registry: ${escapeHtml(info.registry)}. Data directory: <code>${escapeHtml(info.dataDir)}</code>.</p>
<h2>Published apps</h2><ul>${list}</ul>
<h2>Next</h2>
<ul>
<li><a href="/docs">API documentation</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>)</li>
<li>Health: <a href="/healthz">/healthz</a>, readiness: <a href="/readyz">/readyz</a></li>
<li>CLI: <code>npx ballast --help</code></li>
</ul>`;
}

const PLAIN_STYLE =
  "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1d2330}code{background:#f2f4f7;padding:.1rem .3rem;border-radius:4px}";

export function homeRoutes(info: HomeInfo) {
  const webRoot = info.webRoot ?? path.join(PACKAGE_ROOT, "dist/web");
  const samplesDir = info.samplesDir ?? path.join(PACKAGE_ROOT, "examples/data");
  return async (app: FastifyInstance) => {
    const built = existsSync(path.join(webRoot, "index.html"));
    await app.register(
      studioRoutes({
        webRoot,
        samplesDir,
        noscript: async () =>
          `<noscript><style>${PLAIN_STYLE}</style>${await summary(info, true)}</noscript>`,
      }),
    );
    if (built) return;
    app.get("/", { schema: { hide: true } }, async (_request, reply) => {
      reply.type("text/html; charset=utf-8");
      return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ballast</title>
<style>${PLAIN_STYLE}</style>
</head><body>
${await summary(info, false)}
</body></html>`;
    });
  };
}
