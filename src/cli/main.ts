/**
 * The `ballast` command: starts the server, and talks to a running one for everything else
 * (so the CLI in CI and a person at the Studio go through the same API and permissions).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import type {
  AppDetailDto,
  AppDto,
  DatasetDto,
  JobDto,
  KeyDto,
  ModelVersionDto,
  PredictResponseDto,
  TrainProgressDto,
  WebhookEventDto,
} from "../server/api-types.ts";
import { BallastClient, ClientError, resolveApiKey } from "./client.ts";
import { formatNumber, ProgressBar, table } from "./format.ts";
import { registerReleaseCommands } from "./release-commands.ts";

const program = new Command();
program
  .name("ballast")
  .description("Ballast: from a CSV to a production-grade prediction service")
  .option("--url <url>", "Ballast server URL", process.env.BALLAST_URL ?? "http://127.0.0.1:7070")
  .option("--api-key <key>", "API key (default: $BALLAST_API_KEY, else the data dir's admin key)")
  .option("--data-dir <dir>", "data directory", process.env.BALLAST_DATA_DIR ?? ".ballast")
  .showHelpAfterError();

function client(): BallastClient {
  const opts = program.opts<{ url: string; apiKey?: string; dataDir: string }>();
  const apiKey = resolveApiKey(opts.apiKey, path.resolve(opts.dataDir));
  return new BallastClient({ url: opts.url, ...(apiKey ? { apiKey } : {}) });
}

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

program
  .command("serve")
  .description("start the Ballast server (Studio and API)")
  .addOption(new Option("--port <port>", "port").argParser((v) => Number.parseInt(v, 10)))
  .option("--host <host>", "address to listen on")
  .option("--no-demo", "do not load the churn demo on first start")
  .action(async (opts: { port?: number; host?: string; demo: boolean }) => {
    const { startServer } = await import("../server/start.ts");
    const dataDir = program.opts<{ dataDir: string }>().dataDir;
    await startServer({
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.host ? { host: opts.host } : {}),
      ...(opts.demo === false ? { demo: false } : {}),
      dataDir,
    });
  });

const data = program.command("data").description("datasets");
data
  .command("import <file>")
  .description("import a CSV, TSV, Parquet, JSON or NDJSON file")
  .option("--name <name>", "dataset name (default: the file name)")
  .action(async (file: string, opts: { name?: string }) => {
    const { dataset } = await client().uploadDataset<{ dataset: DatasetDto }>(file, opts.name);
    out(
      `Imported ${dataset.name} (${dataset.id}): ${dataset.rowCount} rows, ${dataset.columns.length} columns\n`,
    );
    printProfile(dataset);
  });

data
  .command("list")
  .description("list datasets")
  .action(async () => {
    const { datasets } = await client().request<{ datasets: DatasetDto[] }>("GET", "/v1/datasets");
    if (datasets.length === 0)
      return out("No datasets yet. Import one with `ballast data import FILE`.");
    out(
      table(
        datasets.map((d) => [
          d.name,
          d.id,
          String(d.rowCount),
          String(d.columns.length),
          d.createdAt,
        ]),
        ["NAME", "ID", "ROWS", "COLUMNS", "CREATED"],
      ),
    );
  });

data
  .command("show <dataset>")
  .description("show a dataset's schema and profile")
  .action(async (ref: string) => {
    const { dataset } = await client().request<{ dataset: DatasetDto }>(
      "GET",
      `/v1/datasets/${encodeURIComponent(ref)}`,
    );
    printProfile(dataset);
  });

function printProfile(dataset: DatasetDto): void {
  const profiles = new Map((dataset.profile?.columns ?? []).map((p) => [p.name, p]));
  out(
    table(
      dataset.columns.map((c) => {
        const p = profiles.get(c.name);
        const range =
          p?.min !== undefined
            ? `${formatNumber(p.min)} .. ${formatNumber(p.max)}`
            : (p?.top ?? [])
                .slice(0, 3)
                .map((t) => `${t.value} (${t.count})`)
                .join(", ");
        return [
          c.name,
          c.type,
          p ? `${p.missingPct.toFixed(1)}%` : "",
          p ? String(p.distinct) : "",
          range,
        ];
      }),
      ["COLUMN", "TYPE", "MISSING", "DISTINCT", "RANGE / TOP VALUES"],
    ),
  );
}

program
  .command("train <dataset>")
  .description("train a model to predict a column, choosing the learner automatically")
  .requiredOption("--target <column>", "the column to predict")
  .option("--name <name>", "model (and app) name; default: the dataset name")
  .option(
    "--metric <metric>",
    "metric to choose by (auc, logloss, accuracy, f1, macroF1, r2, rmse, mae)",
  )
  .addOption(
    new Option("--time-budget <seconds>", "time for the model search")
      .argParser((v) => Number(v))
      .default(60),
  )
  .option("--exclude <columns>", "comma-separated columns not to use")
  .action(
    async (
      dataset: string,
      opts: {
        target: string;
        name?: string;
        metric?: string;
        timeBudget: number;
        exclude?: string;
      },
    ) => {
      const api = client();
      const { job } = await api.request<{ job: JobDto }>("POST", "/v1/train", {
        dataset,
        target: opts.target,
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.metric ? { metric: opts.metric } : {}),
        timeBudgetSeconds: opts.timeBudget,
        ...(opts.exclude ? { exclude: opts.exclude.split(",").map((s) => s.trim()) } : {}),
      });
      const bar = new ProgressBar();
      let final: JobDto | undefined;
      await api.events(`/v1/jobs/${job.id}/events`, (event, payload) => {
        if (event === "progress") {
          const p = payload as TrainProgressDto;
          const best = p.best ? `, best ${p.best.learner} ${formatNumber(p.best.score)}` : "";
          bar.update(p.fraction, `${p.candidatesTried} candidates${best}  ${p.message}`);
        } else if (event === "done") {
          final = payload as JobDto;
          const ok = final.status === "succeeded";
          bar.update(ok ? 1 : (final.progress?.fraction ?? 0), ok ? "done" : final.status);
        }
      });
      bar.done();
      if (!final) final = (await api.request<{ job: JobDto }>("GET", `/v1/jobs/${job.id}`)).job;
      if (final.status !== "succeeded" || !final.result) {
        throw new ClientError(
          0,
          final.error?.code ?? "training_failed",
          final.error?.message ?? `Training ${final.status}`,
        );
      }
      const { model } = await api.request<{
        model: ModelVersionDto & { chosen?: { learner: string; params: object } };
      }>(
        "GET",
        `/v1/models/${encodeURIComponent(`${final.result.model}@${final.result.version}`)}`,
      );
      out(`\nModel ${model.name}@${model.version} (${model.task}, target ${model.target})`);
      out(`Chosen: ${model.learner} ${JSON.stringify(model.chosen?.params ?? {})}`);
      out(`Chosen by: cross-validated ${model.metrics.metric}\n`);
      const names = [
        ...new Set([...Object.keys(model.metrics.cv), ...Object.keys(model.metrics.holdout)]),
      ];
      out(
        table(
          names.map((n) => [
            n,
            formatNumber(model.metrics.cv[n]),
            formatNumber(model.metrics.holdout[n]),
          ]),
          ["METRIC", "CROSS-VALIDATED", "HOLD-OUT"],
        ),
      );
      out(`\nPublish it with: ballast deploy ${model.name}@${model.version}`);
    },
  );

program
  .command("deploy <model>")
  .description("publish a model version (name, name@version or id) as an app")
  .option("--app <name>", "app name (default: the model name)")
  .option(
    "--reject-unknown-categories",
    "refuse categories not seen in training instead of scoring them as unknown",
  )
  .option("--max-rows <n>", "most rows per request", (v) => Number.parseInt(v, 10))
  .action(
    async (
      model: string,
      opts: { app?: string; rejectUnknownCategories?: boolean; maxRows?: number },
    ) => {
      const { app } = await client().request<{ app: AppDto }>("POST", "/v1/apps", {
        model,
        ...(opts.app ? { app: opts.app } : {}),
        ...(opts.rejectUnknownCategories ? { unknownCategories: "reject" } : {}),
        ...(opts.maxRows ? { maxRows: opts.maxRows } : {}),
      });
      out(`Published ${app.name} v${app.version} serving ${app.model.name}@${app.model.version}`);
      out(`Endpoint: POST ${new URL(app.endpoint, program.opts<{ url: string }>().url)}`);
    },
  );

program
  .command("predict <app>")
  .description("call a published app")
  .option("--json <record>", 'one JSON record, or {"rows": [...]}')
  .option("--file <rows.ndjson>", "a file with one JSON record per line")
  .option("--explain", "add each prediction's feature contributions")
  .action(async (app: string, opts: { json?: string; file?: string; explain?: boolean }) => {
    let body: unknown;
    if (opts.json !== undefined) {
      try {
        body = JSON.parse(opts.json);
      } catch (error) {
        throw new ClientError(
          0,
          "invalid_json",
          `--json is not valid JSON: ${(error as Error).message}`,
        );
      }
    } else if (opts.file) {
      if (!existsSync(opts.file))
        throw new ClientError(0, "file_not_found", `No such file: ${opts.file}`);
      const rows = readFileSync(opts.file, "utf8")
        .split("\n")
        .map((line, i) => ({ line: line.trim(), n: i + 1 }))
        .filter((l) => l.line.length > 0)
        .map(({ line, n }) => {
          try {
            return JSON.parse(line) as unknown;
          } catch (error) {
            throw new ClientError(
              0,
              "invalid_json",
              `${opts.file} line ${n} is not valid JSON: ${(error as Error).message}`,
            );
          }
        });
      body = { rows };
    } else {
      throw new ClientError(
        0,
        "missing_input",
        "Give the input with --json '{...}' or --file rows.ndjson",
      );
    }
    const result = await client().request<PredictResponseDto>(
      "POST",
      `/v1/apps/${encodeURIComponent(app)}/predict${opts.explain ? "?explain=true" : ""}`,
      body,
    );
    out(JSON.stringify(result, null, 2));
  });

program
  .command("apps")
  .description("list published apps")
  .action(async () => {
    const { apps } = await client().request<{ apps: AppDto[] }>("GET", "/v1/apps");
    if (apps.length === 0) return out("No apps yet. Publish a model with `ballast deploy MODEL`.");
    out(
      table(
        apps.map((a) => [
          a.name,
          `v${a.version}`,
          `${a.model.name}@${a.model.version}`,
          a.task,
          a.endpoint,
        ]),
        ["APP", "VERSION", "MODEL", "TASK", "ENDPOINT"],
      ),
    );
  });

program
  .command("app <name>")
  .description("show an app and its input contract")
  .action(async (name: string) => {
    const { app } = await client().request<{ app: AppDetailDto }>(
      "GET",
      `/v1/apps/${encodeURIComponent(name)}`,
    );
    out(JSON.stringify(app, null, 2));
  });

const models = program
  .command("models")
  .description("list model versions; export and import ONNX models")
  .action(async () => {
    const { models } = await client().request<{ models: ModelVersionDto[] }>("GET", "/v1/models");
    if (models.length === 0)
      return out("No models yet. Train one with `ballast train DATASET --target COL`.");
    out(
      table(
        models.map((m) => [
          `${m.name}@${m.version}`,
          m.task,
          m.target,
          m.learner,
          `${m.metrics.metric} ${formatNumber(m.metrics.cv[m.metrics.metric])}`,
          m.createdAt,
        ]),
        ["MODEL", "TASK", "TARGET", "LEARNER", "CV SCORE", "CREATED"],
      ),
    );
  });

models
  .command("export <model>")
  .description("download a model version (name, name@version or id) as a file")
  .addOption(new Option("--format <format>", "file format").choices(["onnx"]).default("onnx"))
  .option("--out <file>", "where to write it (default: NAME-VERSION.onnx)")
  .action(async (model: string, opts: { format: string; out?: string }) => {
    const { bytes, fileName } = await client().download(
      `/v1/models/${encodeURIComponent(model)}/export?format=${encodeURIComponent(opts.format)}`,
    );
    const target = opts.out ?? fileName ?? `${model.replace(/[^A-Za-z0-9._-]+/g, "-")}.onnx`;
    writeFileSync(target, bytes);
    out(`Wrote ${target} (${formatNumber(bytes.length / 1024)} KB, ONNX)`);
    out("Input: float32 [N, F], the encoded features; see the file's doc string and metadata");
  });

models
  .command("import <file>")
  .description("register an ONNX model with its input schema as a model version")
  .option(
    "--schema <schema.json>",
    "the declared input schema (files exported by Ballast carry theirs)",
  )
  .option("--name <name>", "model name (default: the file name)")
  .action(async (file: string, opts: { schema?: string; name?: string }) => {
    if (!existsSync(file)) throw new ClientError(0, "file_not_found", `No such file: ${file}`);
    let schema: unknown;
    if (opts.schema !== undefined) {
      if (!existsSync(opts.schema))
        throw new ClientError(0, "file_not_found", `No such file: ${opts.schema}`);
      try {
        schema = JSON.parse(readFileSync(opts.schema, "utf8"));
      } catch (error) {
        throw new ClientError(
          0,
          "invalid_json",
          `${opts.schema} is not valid JSON: ${(error as Error).message}`,
        );
      }
    }
    const name =
      opts.name ??
      (path
        .basename(file)
        .replace(/\.[^.]*$/, "")
        .replace(/[^A-Za-z0-9._-]+/g, "-")
        .replace(/^[^A-Za-z0-9]+/, "") ||
        "imported");
    const result = await client().request<{
      model: ModelVersionDto;
      onnx: { input: string; output: string; inputType: string; features: number };
    }>("POST", "/v1/models/import", {
      name,
      model: readFileSync(file).toString("base64"),
      ...(schema !== undefined ? { schema } : {}),
    });
    const { model, onnx } = result;
    out(`Imported ${model.name}@${model.version} (${model.task}, learner ${model.learner})`);
    out(
      `Feeds ${onnx.input} (${onnx.inputType}, ${onnx.features} columns encoded); reads ${onnx.output}`,
    );
    out(`\nPublish it with: ballast deploy ${model.name}@${model.version}`);
  });

const events = program.command("events").description("an app's webhook events");
events
  .command("list <app>")
  .description("list an app's webhook events, newest first")
  .addOption(
    new Option("--status <status>", "only events in this state").choices([
      "queued",
      "processing",
      "done",
      "failed",
      "dead",
      "quarantined",
    ]),
  )
  .option("--limit <n>", "most events shown (1-1000)", "50")
  .action(async (app: string, opts: { status?: string; limit: string }) => {
    const query = new URLSearchParams({
      limit: opts.limit,
      ...(opts.status ? { status: opts.status } : {}),
    });
    const { events: list } = await client().request<{ events: WebhookEventDto[] }>(
      "GET",
      `/v1/apps/${encodeURIComponent(app)}/events?${query}`,
    );
    if (list.length === 0)
      return out(opts.status ? `No ${opts.status} events for ${app}.` : `No events for ${app}.`);
    out(
      table(
        list.map((e) => [
          e.id,
          e.status,
          `${e.attempts}/${e.maxAttempts}`,
          e.callback ? e.callback.status : "",
          e.createdAt,
          eventSummary(e),
        ]),
        ["ID", "STATUS", "ATTEMPTS", "CALLBACK", "CREATED", "DETAIL"],
      ),
    );
  });
events
  .command("show <app> <id>")
  .description("show one event: payload, problems, result, error, callback")
  .action(async (app: string, id: string) => {
    const { event } = await client().request<{ event: WebhookEventDto }>(
      "GET",
      `/v1/apps/${encodeURIComponent(app)}/events/${encodeURIComponent(id)}`,
    );
    out(JSON.stringify(event, null, 2));
  });
events
  .command("replay <app> <id>")
  .description("queue a quarantined or dead event again, optionally with a fixed payload")
  .option("--payload <file.json>", "the fixed event body (a JSON object)")
  .action(async (app: string, id: string, opts: { payload?: string }) => {
    let body: unknown;
    if (opts.payload !== undefined) {
      if (!existsSync(opts.payload))
        throw new ClientError(0, "file_not_found", `No such file: ${opts.payload}`);
      try {
        body = { payload: JSON.parse(readFileSync(opts.payload, "utf8")) as unknown };
      } catch (error) {
        throw new ClientError(
          0,
          "invalid_json",
          `${opts.payload} is not valid JSON: ${(error as Error).message}`,
        );
      }
    }
    const { event } = await client().request<{ event: WebhookEventDto }>(
      "POST",
      `/v1/apps/${encodeURIComponent(app)}/events/${encodeURIComponent(id)}/replay`,
      body,
    );
    out(`Replayed ${event.id}: ${event.status}`);
  });

/** One line about an event: why it is quarantined or failing, or what it answered. */
function eventSummary(e: WebhookEventDto): string {
  const first = e.problems[0];
  if (first) {
    const more = e.problems.length > 1 ? ` (+${e.problems.length - 1} more)` : "";
    return `${first.path} ${first.message}${more}`;
  }
  if (e.error) return e.error;
  const result = e.result as { prediction?: unknown } | undefined;
  return result?.prediction !== undefined ? `prediction ${String(result.prediction)}` : "";
}

const keys = program.command("keys").description("API keys");
keys
  .command("create")
  .description("create an API key (printed once)")
  .requiredOption("--role <role>", "admin, builder, viewer or invoker")
  .option("--name <name>", "a label for the key")
  .action(async (opts: { role: string; name?: string }) => {
    const result = await client().request<{ key: KeyDto; secret: string }>("POST", "/v1/keys", {
      role: opts.role,
      name: opts.name ?? `${opts.role} key`,
    });
    out(`Created ${result.key.role} key ${result.key.id}. Store it now; it is not shown again:\n`);
    out(result.secret);
  });
keys
  .command("list")
  .description("list API keys")
  .action(async () => {
    const { keys: list } = await client().request<{ keys: KeyDto[] }>("GET", "/v1/keys");
    out(
      table(
        list.map((k) => [k.id, k.name, k.role, `${k.prefix}…`, k.revokedAt ? "revoked" : "active"]),
        ["ID", "NAME", "ROLE", "PREFIX", "STATUS"],
      ),
    );
  });
keys
  .command("revoke <id>")
  .description("revoke an API key")
  .action(async (id: string) => {
    await client().request("DELETE", `/v1/keys/${encodeURIComponent(id)}`);
    out(`Revoked ${id}`);
  });

registerReleaseCommands(program, client, out);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ClientError) {
    process.stderr.write(`error: ${error.message}\n`);
    for (const detail of error.details) {
      process.stderr.write(`  - ${detail.path ? `${detail.path}: ` : ""}${detail.message}\n`);
    }
  } else {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exitCode = 1;
});
