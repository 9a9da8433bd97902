/**
 * The Studio's assets and its helpers: the built single-page app (dist/web) at `/` with a
 * fallback to index.html for every non-API GET (so /data/churn can be reloaded), hashed assets
 * under /assets/ cached for a year, and the bundled example data sets as samples a person can
 * import with one click (`GET /studio/samples`, `GET /studio/samples/{name}`).
 */
import { createReadStream, existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";
import { errorBody } from "../errors.ts";

export interface StudioOptions {
  /** The Vite build output: index.html and assets/. */
  readonly webRoot: string;
  /** Folder of sample data files (examples/data). */
  readonly samplesDir: string;
  /** HTML for people without JavaScript (and curl): what is running and where to go. */
  readonly noscript: () => Promise<string>;
}

export interface SampleFile {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly format: string;
  readonly sizeBytes: number;
  /** The column a first model would predict, so the Studio can suggest it. */
  readonly target?: string;
}

const SAMPLE_FORMATS = new Set(["csv", "tsv", "parquet", "json", "ndjson"]);

/** What the bundled files are about (examples/data/README.md has their origin and licence). */
const SAMPLE_INFO: Record<string, { title: string; description: string; target?: string }> = {
  "wa_churn.csv": {
    title: "Telco customer churn",
    description:
      "7,043 customers of a phone company: contract, services and charges. Predict who leaves (churn: Yes/No).",
    target: "churn",
  },
};

export async function listSamples(dir: string): Promise<SampleFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: SampleFile[] = [];
  for (const name of names.sort()) {
    const format = path.extname(name).slice(1).toLowerCase();
    if (!SAMPLE_FORMATS.has(format)) continue;
    const info = SAMPLE_INFO[name];
    const { size } = await stat(path.join(dir, name));
    out.push({
      name,
      title: info?.title ?? name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " "),
      description: info?.description ?? `Example data (${format.toUpperCase()}).`,
      format,
      sizeBytes: size,
      ...(info?.target ? { target: info.target } : {}),
    });
  }
  return out;
}

const CONTENT_TYPES: Record<string, string> = {
  csv: "text/csv; charset=utf-8",
  tsv: "text/tab-separated-values; charset=utf-8",
  json: "application/json; charset=utf-8",
  ndjson: "application/x-ndjson; charset=utf-8",
  parquet: "application/vnd.apache.parquet",
};

/** Marker in web/index.html replaced by the server-rendered <noscript> block. */
const NOSCRIPT_MARKER = "<!--ballast:noscript-->";

/** A path the single-page app answers: not the API, and not something that looks like a file. */
export function isAppPath(url: string): boolean {
  const pathname = url.split("?")[0] ?? "";
  if (pathname === "/v1" || pathname.startsWith("/v1/")) return false;
  if (pathname.startsWith("/assets/") || pathname.startsWith("/studio/")) return false;
  // Prometheus's path: with the exporter off it must be a plain 404, not the Studio's page.
  if (pathname === "/metrics") return false;
  return !/\.[A-Za-z0-9]{1,8}$/.test(pathname);
}

export function studioRoutes(options: StudioOptions) {
  return async (app: FastifyInstance) => {
    const index = path.join(options.webRoot, "index.html");
    const built = existsSync(index);

    app.get("/studio/samples", { schema: { hide: true } }, async () => ({
      samples: await listSamples(options.samplesDir),
    }));

    app.get<{ Params: { name: string } }>(
      "/studio/samples/:name",
      { schema: { hide: true } },
      async (request, reply) => {
        const samples = await listSamples(options.samplesDir);
        const sample = samples.find((s) => s.name === request.params.name);
        if (!sample) {
          return reply.code(404).send(
            errorBody("not_found", `No sample named ${JSON.stringify(request.params.name)}`, [
              {
                path: "name",
                message: `is not one of: ${samples.map((s) => s.name).join(", ")}`,
              },
            ]),
          );
        }
        return reply
          .header("content-type", CONTENT_TYPES[sample.format] ?? "application/octet-stream")
          .header("content-length", String(sample.sizeBytes))
          .header("content-disposition", `attachment; filename="${sample.name}"`)
          .send(createReadStream(path.join(options.samplesDir, sample.name)));
      },
    );

    if (!built) return;

    await app.register(fastifyStatic, {
      root: path.join(options.webRoot, "assets"),
      prefix: "/assets/",
      // File names carry a content hash: a changed file is a new URL.
      maxAge: "365d",
      immutable: true,
      index: false,
      wildcard: true,
    });

    const sendIndex = async (reply: FastifyReply) => {
      const html = await readFile(index, "utf8");
      return reply
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-cache")
        .send(html.replace(NOSCRIPT_MARKER, await options.noscript()));
    };

    app.get("/", { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));
    app.get("/*", { schema: { hide: true } }, async (request, reply) => {
      if (!isAppPath(request.url)) {
        return reply
          .code(404)
          .send(errorBody("not_found", `No route GET ${request.url.split("?")[0]}`));
      }
      return sendIndex(reply);
    });
  };
}
