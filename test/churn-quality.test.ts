/**
 * The foundation's quality bar, through the real pipeline a person uses (DuckDB ingest of the
 * shipped CSV → Recipe → AutoML): cross-validated AUC of at least 0.84 on wa_churn, with a
 * time budget well inside the 60 seconds the issue allows.
 */
import { expect, it } from "vitest";
import { ingestFile } from "../src/data/index.ts";
import { trainModel } from "../src/models/train.ts";

it("wa_churn: default training reaches cross-validated AUC >= 0.84 within 60 s", async () => {
  const started = performance.now();
  const { frame, schema } = await ingestFile("examples/data/wa_churn.csv");
  const { artifact } = await trainModel(frame, schema, {
    target: "churn",
    timeBudgetMs: 20_000,
    seed: 42,
  });
  const elapsed = performance.now() - started;
  const { training } = artifact.header;
  expect(training.metric).toBe("auc");
  expect(training.cv.auc).toBeGreaterThanOrEqual(0.84);
  expect(training.holdout.auc).toBeGreaterThan(0.8);
  expect(elapsed).toBeLessThan(60_000);
}, 90_000);
