/**
 * Test support for the metric observers: a real (tiny) model's predictor, the app version that
 * serves it, and observations of answers, so recorder and exporter tests feed `observe` exactly
 * what the predict route hands it.
 */
import type { Frame } from "../../data/frame.ts";
import { schemaOfFrame } from "../../data/index.ts";
import { Predictor } from "../../models/predictor.ts";
import { trainModel } from "../../models/train.ts";
import { DEFAULT_MONITORING } from "../../spec/monitoring.ts";
import { outcomeOf, type PredictObservation, type ServedVersion } from "../observation.ts";

/** Train a two-feature yes/no model in a fraction of a second. */
export async function tinyPredictor(): Promise<Predictor> {
  const n = 200;
  const x = Float64Array.from({ length: n }, (_, i) => (i * 7919) % 100);
  const frame: Frame = {
    rowCount: n,
    columns: [
      { name: "x", type: "number", values: x },
      {
        name: "churn",
        type: "category",
        codes: Int32Array.from(x, (v) => (v > 50 ? 1 : 0)),
        levels: ["No", "Yes"],
      },
    ],
  };
  const { artifact } = await trainModel(frame, schemaOfFrame(frame), {
    target: "churn",
    timeBudgetMs: 200,
    seed: 1,
  });
  return new Predictor(artifact);
}

/** Version `version` of `app` in workspace `ws`, serving `predictor`. */
export function servedVersion(
  predictor: Predictor,
  version = 1,
  app = "churn",
  workspaceId = "ws",
): ServedVersion {
  return {
    workspaceId,
    app,
    version,
    appVersionId: `av_${workspaceId}_${app}_${version}`,
    model: { name: app, version: 1 },
    predictor,
    monitoring: DEFAULT_MONITORING,
  };
}

let seq = 0;

/** An answer of `served` with `status` (outcome derived as the route does) and latencies. */
export function observation(
  served: ServedVersion,
  status: number,
  latencyMs: number,
  extra: Partial<PredictObservation> = {},
): PredictObservation {
  seq++;
  return {
    requestId: `req-${seq}`,
    at: Date.now(),
    served,
    status,
    outcome: outcomeOf(status),
    latencyMs,
    ...extra,
  };
}

/** {@link observation}, stamped with `now()` as when each request arrived. */
export function observationsAt(now: () => number): typeof observation {
  return (served, status, latencyMs, extra = {}) =>
    observation(served, status, latencyMs, { at: now(), ...extra });
}
