import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Frame } from "../../data/frame.ts";
import { schemaOfFrame } from "../../data/index.ts";
import { Predictor } from "../../models/predictor.ts";
import { trainModel } from "../../models/train.ts";
import { DEFAULT_MONITORING } from "../../spec/monitoring.ts";
import type { PredictObservation, ServedVersion } from "../observation.ts";
import { createPiiMasker } from "../pii-mask.ts";
import { LineThread } from "./line-thread.ts";
import { LogCatalog } from "./log-rows.ts";
import { type EncodedBatch, encodeObservations, renderLines } from "./observation-rows.ts";

const masker = createPiiMasker({ ips: true });

let served: ServedVersion;

beforeAll(async () => {
  // A real regression model: encoding reads its task from the artifact.
  const x = Float64Array.from({ length: 120 }, (_, i) => i % 17);
  const frame: Frame = {
    rowCount: 120,
    columns: [
      { name: "x", type: "number", values: x },
      { name: "y", type: "number", values: x.map((v) => 3 * v + 1) },
    ],
  };
  const { artifact } = await trainModel(frame, schemaOfFrame(frame), {
    target: "y",
    timeBudgetMs: 200,
    seed: 1,
  });
  served = {
    workspaceId: "ws",
    app: "price",
    version: 1,
    appVersionId: "av1",
    model: { name: "price", version: 1 },
    predictor: new Predictor(artifact),
    monitoring: DEFAULT_MONITORING,
  };
}, 60_000);

function batchOf(n: number, from: number): PredictObservation[] {
  return Array.from({ length: n }, (_, i) => {
    const record = { id: from + i, note: `mail jo${i}@example.com`, ip: "10.0.0.1" };
    const text = JSON.stringify(record);
    return {
      requestId: `r${from + i}`,
      at: 1_700_000_000_000 + i,
      served,
      status: 200,
      outcome: "ok",
      latencyMs: 1.5,
      records: [JSON.parse(text)],
      answers: [{ prediction: i / 2 }],
      bodyText: text,
    };
  });
}

const encode = (batch: PredictObservation[]): EncodedBatch =>
  encodeObservations(batch, masker, new LogCatalog().batch(), 1_700_000_000_000);

let thread: LineThread | undefined;
afterEach(async () => {
  await thread?.close();
  thread = undefined;
});

describe("LineThread", () => {
  it("makes on its thread the very lines the event loop would, each batch its own", async () => {
    thread = new LineThread({ ips: true });
    const batches = [batchOf(3, 0), batchOf(250, 100), batchOf(1, 1000)];
    // Sent at once: each answer goes to its own batch.
    const bytes = await Promise.all(batches.map((b) => (thread as LineThread).render(encode(b))));
    const decoder = new TextDecoder();
    expect(bytes.map((b) => decoder.decode(b))).toEqual(
      batches.map((b) => renderLines(encode(b), masker).text),
    );
    const text = decoder.decode(bytes[1]);
    expect(text.split("\n")).toHaveLength(251);
    expect(text).not.toContain("@example.com");
    expect(text).not.toContain("10.0.0.1");
    expect(text).toContain("[email]");
  });

  it("refuses batches once closed", async () => {
    thread = new LineThread({ ips: true });
    await thread.render(encode(batchOf(1, 0)));
    await thread.close();
    await expect(thread.render(encode(batchOf(1, 0)))).rejects.toThrow("closed");
  });
});
