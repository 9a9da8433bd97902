import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Frame } from "../../data/frame.ts";
import { schemaOfFrame } from "../../data/index.ts";
import { createRandom } from "../../learn/random.ts";
import { Predictor } from "../../models/predictor.ts";
import { trainModel } from "../../models/train.ts";
import type { RowAnswer } from "../../runtime/pipeline/pipeline.ts";
import { DEFAULT_MONITORING } from "../../spec/monitoring.ts";
import type { PredictObservation, ServedVersion } from "../observation.ts";
import { createPiiMasker } from "../pii-mask.ts";
import { LogCatalog } from "./log-rows.ts";
import { observationLines } from "./observation-rows.ts";
import { PredictionStore, predictionLogPath } from "./prediction-store.ts";

/** x drives the target; the target is yes/no, one of three, a number, or labels that hold PII. */
function frame(target: "binary" | "multiclass" | "regression" | "pii-labels"): Frame {
  const n = 240;
  const random = createRandom(3);
  const x = Float64Array.from({ length: n }, () => random.nextFloat() * 10);
  const y =
    target === "regression"
      ? { name: "y", type: "number" as const, values: Float64Array.from(x, (v) => 2 * v + 1) }
      : {
          name: "y",
          type: "category" as const,
          codes: Int32Array.from(x, (v) =>
            target === "multiclass" ? Math.min(2, v / 3.4) : +(v > 5),
          ),
          levels:
            target === "multiclass"
              ? ["low", "mid", "high"]
              : target === "pii-labels"
                ? ["jo@example.com", "phone"]
                : ["No", "Yes"],
        };
  return { rowCount: n, columns: [{ name: "x", type: "number", values: x }, y] };
}

const predictors = new Map<string, Predictor>();
let dir: string;
let store: PredictionStore;
const masker = createPiiMasker({ ips: true });

beforeAll(async () => {
  for (const task of ["binary", "multiclass", "regression", "pii-labels"] as const) {
    const f = frame(task);
    const { artifact } = await trainModel(f, schemaOfFrame(f), {
      target: "y",
      timeBudgetMs: 200,
      seed: 1,
    });
    predictors.set(task, new Predictor(artifact));
  }
  dir = mkdtempSync(path.join(os.tmpdir(), "ballast-obsrows-"));
  store = await PredictionStore.open(predictionLogPath(dir));
}, 60_000);

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function served(task: string): ServedVersion {
  const predictor = predictors.get(task);
  if (!predictor) throw new Error(`no ${task} model`);
  return {
    workspaceId: "ws",
    app: task,
    version: 1,
    appVersionId: `av-${task}`,
    model: { name: task, version: 1 },
    predictor,
    monitoring: DEFAULT_MONITORING,
  };
}

let seq = 0;
const observation = (
  version: ServedVersion,
  records: Record<string, unknown>[],
  answers: RowAnswer[],
  body: Pick<PredictObservation, "bodyText" | "bodyRows"> = {},
): PredictObservation => ({
  requestId: `obs-${++seq}`,
  at: Date.UTC(2025, 0, 1) + seq,
  served: version,
  status: 200,
  outcome: "ok",
  latencyMs: 1.25,
  records,
  answers,
  ...body,
});

/** Log the observations through the real batch path; their rows back from the view. */
async function logged(batch: PredictObservation[]) {
  await store.insertBatch((catalog, atBase) => observationLines(batch, masker, catalog, atBase));
  const ids = batch.map((o) => `'${o.requestId}'`).join(", ");
  const rows = await store.query(
    `SELECT p.request_id, p.row_index, p.input, p.output, p.probabilities, p.prediction_label,
            p.prediction_value, p.score, r.output IS NULL AS compact
     FROM predictions p JOIN prediction_rows r USING (request_id, row_index)
     WHERE p.request_id IN (${ids}) ORDER BY p.request_id, p.row_index`,
  );
  const json = (v: unknown) => (v === null ? null : (JSON.parse(String(v)) as unknown));
  const byId = new Map(rows.map((r) => [`${String(r[0])}#${String(r[1])}`, r]));
  return batch.flatMap((o) =>
    (o.records ?? []).map((_, i) => {
      const r = byId.get(`${o.requestId}#${i}`);
      if (!r) throw new Error(`${o.requestId} row ${i} was not logged`);
      return {
        input: json(r[2]),
        inputText: String(r[2]),
        output: json(r[3]),
        probabilities: json(r[4]),
        predictionLabel: r[5],
        predictionValue: r[6],
        score: r[7],
        compact: r[8],
      };
    }),
  );
}

const asJson = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown;

describe("observationLines", () => {
  it("counts its rows, not its newlines: a quoted field may hold one", async () => {
    const version = served("binary");
    const predictor = predictors.get("binary") as Predictor;
    const text = JSON.stringify({ x: 2 });
    const batch = [
      { ...observation(version, [{ x: 1 }], [predictor.predict({ x: 1 })]), traceId: "t\n1" },
      observation(version, [JSON.parse(text)], [predictor.predict({ x: 2 })], { bodyText: text }),
    ];
    const chunks = [];
    for await (const chunk of observationLines(batch, masker, new LogCatalog().batch(), 0)) {
      chunks.push(chunk);
    }
    expect(chunks.map((c) => c.lines)).toEqual([2]);
    const rows = await logged(batch);
    expect(rows.map((r) => r.input)).toEqual([{ x: 1 }, { x: 2 }]);
  });

  it("gives back every record as maskValue masks it, whatever its shape", async () => {
    const planted = fc.constantFrom(
      "jo@example.com",
      "call +44 20 7946 0958",
      "4111 1111 1111 1111",
      "10.0.0.1",
      "fine",
    );
    const key = fc.oneof(
      fc.constantFrom("x", "note", "email", "phone_service", "clientIp", "a b", "ü", "", "1", "0"),
      fc.string({ maxLength: 6 }).filter((k) => k !== "__proto__"),
    );
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), planted);
    const record = fc.dictionary(key, value, { maxKeys: 6 });
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 8 }), async (records) => {
        const version = served("binary");
        const predictor = predictors.get("binary") as Predictor;
        const answers = records.map(() => predictor.predict({ x: 3 }));
        // As a front door that kept the body's text gives them: parsed from that text, which
        // the line thread parses again (one record, or a batch's rows).
        const texts = records.map((r) => JSON.stringify(r));
        const parsed = texts.map((t) => JSON.parse(t) as Record<string, unknown>);
        const batchText = JSON.stringify({ rows: records });
        const batchParsed = (JSON.parse(batchText) as { rows: Record<string, unknown>[] }).rows;
        // Records one per request, and all in one batch request; without and with their text.
        const rows = await logged([
          ...records.map((r, i) => observation(version, [r], [answers[i] as RowAnswer])),
          observation(version, records, answers),
          ...parsed.map((r, i) =>
            observation(version, [r], [answers[i] as RowAnswer], { bodyText: texts[i] }),
          ),
          observation(version, batchParsed, answers, { bodyText: batchText, bodyRows: true }),
        ]);
        const expected = [...records, ...records, ...parsed, ...batchParsed].map((r) =>
          asJson(masker.maskValue(r)),
        );
        expect(rows.map((r) => r.input)).toEqual(expected);
        // Field order too: the text is what JSON.stringify of the masked record parses to.
        expect(rows.map((r) => Object.keys(r.input as object))).toEqual(
          expected.map((e) => Object.keys(e as object)),
        );
      }),
      { numRuns: 30 },
    );
  });

  it("writes a plain answer once, in the typed columns, and gives it back whole", async () => {
    const batch = ["binary", "multiclass", "regression"].map((task) => {
      const version = served(task);
      const records = [{ x: 1 }, { x: 9 }];
      const predictor = predictors.get(task) as Predictor;
      return observation(
        version,
        records,
        records.map((r) => predictor.predict(r)),
      );
    });
    const rows = await logged(batch);
    const answers = batch.flatMap((o) => o.answers ?? []);
    expect(rows.map((r) => r.output)).toEqual(answers.map(asJson));
    expect(rows.every((r) => r.compact === true)).toBe(true);
    const [b0, b1, m0, m1, r0, r1] = rows;
    const [a0, a1, am0, am1, ar0, ar1] = answers;
    for (const [row, answer] of [
      [b0, a0],
      [b1, a1],
      [m0, am0],
      [m1, am1],
    ] as const) {
      expect(row?.probabilities).toEqual(asJson(answer?.probabilities));
      expect(row?.predictionLabel).toBe(answer?.prediction);
    }
    expect(b1?.score).toBe(a1?.probabilities?.Yes);
    expect(m0?.score).toBeNull();
    expect([r0?.predictionValue, r1?.predictionValue]).toEqual([ar0?.prediction, ar1?.prediction]);
    expect([r0?.probabilities, r0?.score]).toEqual([null, null]);
  });

  it("keeps any other answer whole, masked, and its probabilities as the model gave them", async () => {
    const binary = served("binary");
    const pii = served("pii-labels");
    const predictor = predictors.get("pii-labels") as Predictor;
    // Predicts the class "jo@example.com" (and "phone" is a field name masking replaces).
    const labelled = predictor.predict({ x: 1 });
    const answers: RowAnswer[] = [
      // An explanation, a fallback, who answered: more than the typed columns say.
      {
        prediction: "Yes",
        probabilities: { No: 0.25, Yes: 0.75 },
        answered_by: { step: "model", model: { name: "churn", version: 2 } },
      },
      { prediction: "No", fallback: { reason: "timeout", step: "model" } },
      // Probabilities that do not add up, or not in the classes' order.
      { prediction: "No", probabilities: { No: 0.3, Yes: 0.3 } },
      { prediction: "Yes", probabilities: { Yes: 0.75, No: 0.25 } },
      // Personal data in the answer itself.
      { prediction: "call jo@example.com", probabilities: { No: 0.5, Yes: 0.5 } },
    ];
    const rows = await logged([
      observation(
        binary,
        answers.map(() => ({ x: 1 })),
        answers,
      ),
      observation(pii, [{ x: 1 }], [labelled]),
    ]);
    expect(rows.map((r) => r.compact)).toEqual([false, false, false, false, false, false]);
    expect(rows.map((r) => r.output)).toEqual(
      [...answers, labelled].map((a) => asJson(masker.maskValue(a))),
    );
    expect(rows[5]?.output).toMatchObject({
      prediction: "[email]",
      // A class called "phone" keeps its probability: a number under 7 digits is no phone.
      probabilities: { phone: expect.any(Number) },
    });
    // The report reads the raw probabilities and score, as before masking.
    expect(rows.map((r) => r.probabilities)).toEqual(
      [...answers, labelled].map((a) => asJson(a.probabilities)),
    );
    expect(rows[3]?.score).toBe(0.75);
    expect(rows[5]?.score).toBe(labelled.probabilities?.phone);
  });
});
