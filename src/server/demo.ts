/**
 * The first-start demo: import the shipped telco churn data, train on it, and publish the
 * app `churn`, so a new user can call a real endpoint within a minute. It goes through the
 * same registry, training worker and publish path as everything else. A marker file makes
 * it happen once per data dir, even if a person later deletes the app.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { ingestFile } from "../data/index.ts";
import { defaultAppSpec } from "../spec/app-spec.ts";
import type { ServerContext } from "./context.ts";

export const DEMO_APP = "churn";

export async function loadDemo(
  ctx: ServerContext,
  workspaceId: string,
  csvPath: string,
): Promise<void> {
  const marker = path.join(ctx.config.dataDir, "demo.loaded");
  if (existsSync(marker)) return;
  const log = (message: string) => process.stdout.write(`[demo] ${message}\n`);

  let dataset = await ctx.findDataset(workspaceId, DEMO_APP);
  if (!dataset) {
    const ingested = await ingestFile(csvPath, { format: "csv" });
    const blob = await ctx.blobs.putFile(csvPath);
    dataset = await ctx.registry.datasets.create(workspaceId, {
      name: DEMO_APP,
      format: "csv",
      fileName: path.basename(csvPath),
      blobSha256: blob.sha256,
      sizeBytes: blob.size,
      rowCount: ingested.frame.rowCount,
      schema: ingested.schema,
      profile: ingested.profile,
    });
    log(`imported ${dataset.rowCount} rows of telco churn data as dataset "${DEMO_APP}"`);
  }
  const filePath = ctx.blobs.path?.(dataset.blobSha256);
  if (!filePath) throw new Error("the blob store cannot give a local path for training");
  const timeBudgetSeconds = Math.max(1, Math.round(ctx.config.demoTimeBudgetMs / 1000));
  const request = { dataset: dataset.name, target: "churn", name: DEMO_APP, timeBudgetSeconds };
  const job = await ctx.registry.jobs.create(workspaceId, { kind: "train", input: request });
  log(`training a churn model (up to ${timeBudgetSeconds}s)…`);
  const done = ctx.training.waitFor(job.id);
  ctx.training.start({
    jobId: job.id,
    workspaceId,
    request,
    datasetId: dataset.id,
    worker: {
      filePath,
      format: "csv",
      types: {},
      target: "churn",
      exclude: [],
      timeBudgetMs: ctx.config.demoTimeBudgetMs,
      seed: 42,
      dataset: { id: dataset.id, name: dataset.name },
    },
  });
  const finished = await done;
  if (finished.status !== "succeeded" || !finished.result) {
    throw new Error(`demo training ${finished.status}: ${finished.error?.message ?? "no result"}`);
  }
  const { model, version } = finished.result;
  const app = await ctx.publish(
    workspaceId,
    defaultAppSpec(DEMO_APP, { name: model, version }),
    finished.result.modelVersionId,
  );
  await writeFile(marker, `${new Date().toISOString()}\n`);
  log(`published app "${app.name}" (model ${model}@${version}): POST ${app.endpoint}`);
}
