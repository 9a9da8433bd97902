/**
 * createBallast(config): the one place where the registry (SQLite or PostgreSQL), the blob
 * store, the training runner and the HTTP server are wired together, as Kysely wires a
 * dialect. Everything else receives what it needs from here.
 */

import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { createServer, type ServerOptions } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { sql } from "kysely";
import { createPiiMasker } from "../monitor/pii-mask.ts";
import { Tracing } from "../monitor/tracing.ts";
import { openRegistry } from "../registry/registry.ts";
import { LocalBlobStore } from "../store/local-blob-store.ts";
import type { BallastConfig } from "./config.ts";
import { ServerContext } from "./context.ts";
import type { PredictRouteDeps } from "./data-plane/admission.ts";
import { type LevelLogger, type PredictFastPath, predictFastPath } from "./data-plane/fast-path.ts";
import { loadDemo } from "./demo.ts";
import { answerError } from "./error-response.ts";
import { errorBody } from "./errors.ts";
import { jsonBodyParser } from "./json-body.ts";
import { loggerOptions } from "./logging.ts";
import { applyNodeCompat } from "./node-compat.ts";
import { withPublishedApps } from "./openapi.ts";
import { registerRequestSpans, requestChildLoggerFactory, requestIdOf } from "./request-trace.ts";
import { analysisRoutes } from "./routes/analysis.ts";
import { appMetricsRoutes } from "./routes/app-metrics.ts";
import { appRuntimeStateRoutes } from "./routes/app-runtime-state.ts";
import { appSessionRoutes } from "./routes/app-sessions.ts";
import { appVersionRoutes } from "./routes/app-versions.ts";
import { appRoutes } from "./routes/apps.ts";
import { datasetRowRoutes } from "./routes/dataset-rows.ts";
import { datasetRoutes } from "./routes/datasets.ts";
import { driftRoutes } from "./routes/drift.ts";
import { goldenRoutes } from "./routes/golden.ts";
import { homeRoutes } from "./routes/home.ts";
import { hookRoutes } from "./routes/hooks.ts";
import { keyRoutes } from "./routes/keys.ts";
import { metricSeriesRoutes } from "./routes/metric-series.ts";
import { modelRoutes } from "./routes/models.ts";
import { onnxRoutes } from "./routes/onnx.ts";
import { outcomeRoutes } from "./routes/outcomes.ts";
import { predictRoutes } from "./routes/predict.ts";
import { prometheusRoutes } from "./routes/prometheus.ts";
import { releaseRoutes } from "./routes/releases.ts";
import { sessionRoutes } from "./routes/session.ts";
import { sloRoutes } from "./routes/slo.ts";
import { specRoutes } from "./routes/spec.ts";
import { stagingRoutes } from "./routes/staging.ts";
import { trainingRoutes } from "./routes/training.ts";

const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }
).version;

export interface Bootstrap {
  /** The admin key, only on the very first start (it is printed once and saved to the data dir). */
  readonly adminKey?: string;
  readonly workspaceId: string;
}

export interface Ballast {
  readonly config: BallastConfig;
  readonly context: ServerContext;
  readonly server: FastifyInstance;
  readonly bootstrap: Bootstrap;
  readonly training: ServerContext["training"];
  /** The data plane's fast path for predictions (data-plane/fast-path.ts). */
  readonly fastPath: PredictFastPath;
  /** Spans to the OTLP collector, when `otlpEndpoint` is configured (`flush()` for tests). */
  readonly tracing?: Tracing;
  /** Start listening; resolves to the base URL. */
  listen(): Promise<string>;
  /** Resolves when the demo app is published (or immediately if there is no demo to load). */
  demoReady(): Promise<void>;
  close(): Promise<void>;
}

export async function createBallast(config: BallastConfig): Promise<Ballast> {
  applyNodeCompat();
  await mkdir(config.dataDir, { recursive: true });
  const registry = await openRegistry(
    config.databaseUrl
      ? { url: config.databaseUrl }
      : { sqlitePath: path.join(config.dataDir, "registry.db") },
  );
  const blobs = new LocalBlobStore(path.join(config.dataDir, "blobs"));
  const ctx = new ServerContext(config, registry, blobs);
  const bootstrap = await firstStart(ctx);

  const masker = createPiiMasker({ ips: config.logMaskIps });
  const tracing = config.otlpEndpoint
    ? new Tracing({ endpoint: config.otlpEndpoint, serviceVersion: VERSION, masker })
    : undefined;
  const predictDeps: PredictRouteDeps = {
    apps: ctx.apps,
    authenticate: ctx.authenticate,
    authenticateNow: ctx.authenticateNow,
    observers: ctx.observers,
    counters: ctx.counters,
    rateLimiter: ctx.rateLimiter,
    idempotency: ctx.idempotency,
    shadow: ctx.shadow,
    ...(config.workspaceRateLimit.perSecond > 0
      ? { workspaceRateLimit: config.workspaceRateLimit }
      : {}),
  };
  const childLoggerFactory = requestChildLoggerFactory(masker);
  let closing = false;
  // Predictions take the data plane's fast path (data-plane/fast-path.ts) when it can answer
  // them exactly as the route would; everything else goes to Fastify.
  const fastPath = predictFastPath({
    deps: predictDeps,
    bodyLimit: config.bodyLimit,
    logger: () => server.log as LevelLogger,
    childLogger: childLoggerFactory,
    jsonParser: () => jsonParser,
    open: () => !closing && tracing === undefined,
  });
  const server: FastifyInstance = Fastify({
    // Node's HTTP server as Fastify would make it (server.js), with the fast path in front.
    serverFactory: (handler, fastifyOptions) => {
      const options = fastifyOptions as {
        http?: ServerOptions;
        keepAliveTimeout?: number;
        requestTimeout?: number;
        connectionTimeout?: number;
        maxRequestsPerSocket?: number;
      };
      const http = createServer(options.http ?? {}, (req, res) => {
        if (!fastPath.handle(req, res)) handler(req, res);
      });
      http.keepAliveTimeout = options.keepAliveTimeout ?? 72_000;
      http.requestTimeout = options.requestTimeout ?? 0;
      http.setTimeout(options.connectionTimeout ?? 0);
      if ((options.maxRequestsPerSocket ?? 0) > 0) {
        http.maxRequestsPerSocket = options.maxRequestsPerSocket ?? 0;
      }
      return http;
    },
    logger: loggerOptions({
      level: config.logLevel,
      masker,
      maskIps: config.logMaskIps,
      ...(config.logDestination !== undefined ? { destination: config.logDestination } : {}),
    }),
    childLoggerFactory,
    // Bad URLs (undecodable, over-long parameters) are answered before routing and its hooks:
    // answered here, they too carry X-Request-Id and the uniform error body.
    frameworkErrors: (error, request, reply) => answerFrameworkError(error, request, reply),
    bodyLimit: config.bodyLimit,
    genReqId: (request) => requestIdOf(request.headers),
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        allErrors: true,
        useDefaults: true,
      },
    },
  });
  ctx.setLogger(server.log);
  // Fastify's JSON parser, whose 400s also say where a body went wrong (json-body.ts).
  const jsonParser = jsonBodyParser(server);
  server.removeContentTypeParser("application/json");
  server.addContentTypeParser("application/json", { parseAs: "string" }, (request, text, done) =>
    jsonParser(request, text as string, done),
  );
  server.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  // Callback-style hooks on every request: an async hook costs a promise per request.
  server.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });
  if (tracing) registerRequestSpans(server, tracing);
  server.setErrorHandler((error, request, reply) => {
    const { status, body, headers } = answerError(error, request.log);
    void reply.code(status).headers(headers).send(body);
  });
  server.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send(errorBody("not_found", `No route ${request.method} ${request.url.split("?")[0]}`));
  });

  await server.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Ballast API",
        version: VERSION,
        description:
          "Control plane (datasets, training, models, apps, keys) and data plane (predict) of Ballast. Authenticate with `Authorization: Bearer <API key>`.",
      },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
      security: [{ apiKey: [] }],
    },
  });
  const openapi = async () => {
    const published = await publishedContracts(ctx);
    return withPublishedApps(server.swagger() as Record<string, unknown>, published);
  };
  server.get("/openapi.json", { schema: { hide: true } }, async () => openapi());
  await server.register(swaggerUi, {
    routePrefix: "/docs",
    transformSpecification: (_spec, _request, _reply) => latestDoc,
    transformSpecificationClone: false,
  });
  // swagger-ui's transform is synchronous: keep the document with apps fresh before /docs reads it.
  let latestDoc: Record<string, unknown> = {};
  server.addHook("onRequest", (request, _reply, done) => {
    if (!request.url.startsWith("/docs")) return done();
    openapi().then(
      (doc) => {
        latestDoc = doc;
        done();
      },
      (error: unknown) => done(error as Error),
    );
  });

  server.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));
  server.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
    try {
      await sql`select 1`.execute(registry.db);
      return { status: "ready", registry: registry.dialect };
    } catch (error) {
      return reply
        .code(503)
        .header("retry-after", "5")
        .send(errorBody("not_ready", `Registry unreachable: ${(error as Error).message}`));
    }
  });

  await server.register(
    homeRoutes({
      version: VERSION,
      registry:
        registry.dialect === "postgres"
          ? "PostgreSQL"
          : `SQLite (${path.join(config.dataDir, "registry.db")})`,
      dataDir: config.dataDir,
      apps: async () =>
        (await ctx.listApps(bootstrap.workspaceId)).map((a) => ({
          name: a.name,
          version: a.version,
          model: `${a.model.name}@${a.model.version}`,
        })),
    }),
  );
  await server.register(sessionRoutes(ctx));
  await server.register(datasetRoutes(ctx));
  await server.register(datasetRowRoutes(ctx));
  await server.register(analysisRoutes(ctx));
  await server.register(trainingRoutes(ctx));
  await server.register(modelRoutes(ctx));
  await server.register(onnxRoutes(ctx, VERSION));
  await server.register(appRoutes(ctx));
  await server.register(appVersionRoutes(ctx));
  await server.register(appMetricsRoutes(ctx));
  await server.register(driftRoutes(ctx));
  await server.register(outcomeRoutes(ctx));
  await server.register(metricSeriesRoutes(ctx));
  await server.register(prometheusRoutes(ctx));
  await server.register(specRoutes(ctx));
  await server.register(keyRoutes(ctx));
  await server.register(appSessionRoutes(ctx));
  await server.register(appRuntimeStateRoutes(ctx));
  await server.register(hookRoutes(ctx));
  await server.register(sloRoutes(ctx));
  await server.register(releaseRoutes(ctx));
  await server.register(goldenRoutes(ctx));
  await server.register(stagingRoutes(ctx));
  await server.register(predictRoutes(predictDeps));

  let demo: Promise<void> = Promise.resolve();
  return {
    config,
    context: ctx,
    server,
    bootstrap,
    training: ctx.training,
    fastPath,
    ...(tracing ? { tracing } : {}),
    async listen() {
      const address = await server.listen({ host: config.host, port: config.port });
      ctx.metricRollups.start({
        onError: (error) => server.log.warn({ err: error }, "metric rollups: a write failed"),
      });
      ctx.processMetrics.start();
      ctx.slo.start();
      ctx.releaseController.start();
      // Webhook workers for every deployed app with hooks on; deploys are picked up by polling.
      await ctx.webhooks.start({
        onError: (error) =>
          server.log.warn({ err: error }, "webhook workers: an error nobody awaited"),
      });
      if (config.demo) {
        demo = loadDemo(
          ctx,
          bootstrap.workspaceId,
          path.join(PACKAGE_ROOT, "examples/data/wa_churn.csv"),
        ).catch((error: unknown) => {
          server.log.error({ err: error }, "the churn demo could not be loaded");
        });
      }
      return address.replace("[::1]", "127.0.0.1");
    },
    demoReady: () => demo,
    async close() {
      await ctx.close();
      await server.close();
      await registry.close();
      await tracing?.shutdown();
    },
  };
}

/** A URL Fastify could not route (undecodable, a parameter too long): 400 or 414, with its id. */
function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const status = error.statusCode === 414 ? 414 : 400;
  void reply
    .code(status)
    .header("x-request-id", request.id)
    .send(errorBody(status === 414 ? "url_too_long" : "invalid_url", error.message));
}

/** On a data dir with no workspace yet: create it and an admin key, saved for the CLI. */
async function firstStart(ctx: ServerContext): Promise<Bootstrap> {
  const existing = await ctx.registry.workspaces.list();
  const workspace = await ctx.registry.ensureDefaultWorkspace();
  const keyFile = path.join(ctx.config.dataDir, "admin.key");
  if (existing.length > 0 && existsSync(keyFile)) return { workspaceId: workspace.id };
  if (existing.length > 0) return { workspaceId: workspace.id };
  const { key } = await ctx.registry.apiKeys.createKey(workspace.id, {
    name: "local admin",
    role: "admin",
  });
  await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  return { adminKey: key, workspaceId: workspace.id };
}

async function publishedContracts(ctx: ServerContext) {
  const workspaces = await ctx.registry.workspaces.list();
  const out = [];
  for (const ws of workspaces) {
    for (const app of await ctx.listApps(ws.id)) {
      const published = await ctx.apps.get(ws.id, app.name);
      if (published) {
        out.push({
          name: published.name,
          version: published.version,
          spec: published.spec,
          recipe: published.predictor.artifact.header.recipe,
        });
      }
    }
  }
  return out;
}
