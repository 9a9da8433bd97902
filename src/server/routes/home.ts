/**
 * `/`: until the Studio lands, a plain page that says what is running and where to go next.
 */
import type { FastifyInstance } from "fastify";

export interface HomeInfo {
  readonly version: string;
  readonly registry: string;
  readonly dataDir: string;
  apps(): Promise<readonly { name: string; version: number; model: string }[]>;
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

export function homeRoutes(info: HomeInfo) {
  return async (app: FastifyInstance) => {
    app.get("/", { schema: { hide: true } }, async (_request, reply) => {
      const apps = await info.apps();
      const list = apps.length
        ? apps
            .map(
              (a) =>
                `<li><code>POST /v1/apps/${escapeHtml(a.name)}/predict</code> — ${escapeHtml(a.name)} v${a.version} serving ${escapeHtml(a.model)}</li>`,
            )
            .join("")
        : "<li>No apps published yet.</li>";
      reply.type("text/html; charset=utf-8");
      return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ballast</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1d2330}code{background:#f2f4f7;padding:.1rem .3rem;border-radius:4px}</style>
</head><body>
<h1>Ballast is running</h1>
<p>Version ${escapeHtml(info.version)}. Registry: ${escapeHtml(info.registry)}. Data directory: <code>${escapeHtml(info.dataDir)}</code>.</p>
<h2>Published apps</h2><ul>${list}</ul>
<h2>Next</h2>
<ul>
<li><a href="/docs">API documentation</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>)</li>
<li>Health: <a href="/healthz">/healthz</a>, readiness: <a href="/readyz">/readyz</a></li>
<li>CLI: <code>npx ballast --help</code></li>
</ul>
</body></html>`;
    });
  };
}
