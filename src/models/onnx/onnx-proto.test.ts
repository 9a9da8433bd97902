/**
 * The protobuf subset: every field kind the exporter writes survives encode → decode, with
 * 64-bit integers as plain numbers, and onnxruntime accepts what we encode.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
  attr,
  floatTensor,
  GraphBuilder,
  int64Tensor,
  makeModel,
  tensorInfo,
} from "./graph-builder.ts";
import { DataType, decodeModel, encodeModel, OnnxFormatError } from "./onnx-proto.ts";

function sampleModel() {
  const g = new GraphBuilder("sample");
  g.reserve("x", "y");
  const w = g.constant(floatTensor("w", [2, 1], [0.5, -2]));
  const idx = g.constant(int64Tensor("idx", [2], [1, 0]));
  const swapped = g.op("Gather", ["x", idx], [attr.int("axis", 1)]);
  g.op("MatMul", [swapped, w], [], "y");
  return makeModel(
    g.build(
      [tensorInfo("x", DataType.FLOAT, ["N", 2])],
      [tensorInfo("y", DataType.FLOAT, ["N", 1])],
    ),
    { "": 13 },
    {
      producerName: "test",
      docString: "two features, swapped",
      metadataProps: [{ key: "k", value: "v" }],
    },
  );
}

describe("onnx-proto", () => {
  it("round-trips models, attributes and tensors", () => {
    const model = sampleModel();
    model.graph?.node?.push({
      opType: "Noop",
      input: [],
      output: ["z"],
      attribute: [
        attr.ints("big", [2 ** 40, -3]),
        attr.floats("f", [0.25, -1.5]),
        attr.strings("s", ["BRANCH_LEQ", "LEAF"]),
        attr.string("mode", "SUM"),
        attr.float("alpha", 0.5),
      ],
    });
    const decoded = decodeModel(encodeModel(model));
    expect(decoded.irVersion).toBe(8);
    expect(decoded.opsetImport).toEqual([{ domain: "", version: 13 }]);
    expect(decoded.metadataProps).toEqual([{ key: "k", value: "v" }]);
    expect(decoded.graph?.input?.[0]?.type?.tensorType?.shape?.dim).toEqual([
      { dimParam: "N" },
      { dimValue: 2 },
    ]);
    const noop = decoded.graph?.node?.find((n) => n.opType === "Noop");
    const attrs = Object.fromEntries((noop?.attribute ?? []).map((a) => [a.name, a]));
    expect(attrs.big?.ints).toEqual([2 ** 40, -3]);
    expect(attrs.f?.floats).toEqual([0.25, -1.5]);
    expect(attrs.s?.strings?.map((b: Uint8Array) => new TextDecoder().decode(b))).toEqual([
      "BRANCH_LEQ",
      "LEAF",
    ]);
    expect(new TextDecoder().decode(attrs.mode?.s)).toBe("SUM");
    expect(attrs.alpha?.f).toBe(0.5);
    const idx = decoded.graph?.initializer?.find((t) => t.name === "idx");
    expect(idx).toMatchObject({ dims: [2], dataType: DataType.INT64, int64Data: [1, 0] });
    const w = decoded.graph?.initializer?.find((t) => t.name === "w");
    expect(new Float32Array(Uint8Array.from(w?.rawData ?? []).buffer)).toEqual(
      Float32Array.of(0.5, -2),
    );
  });

  it("encodes files onnxruntime runs", async () => {
    const session = await ort.InferenceSession.create(encodeModel(sampleModel()));
    const out = await session.run({
      x: new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4), [2, 2]),
    });
    await session.release();
    // Swapped columns [2, 1] and [4, 3] times [0.5, -2].
    expect(Array.from(out.y?.data as Float32Array)).toEqual([2 * 0.5 - 2, 4 * 0.5 - 6]);
  });

  it("refuses bytes that are not protobuf", () => {
    expect(() => decodeModel(Uint8Array.of(0x3a, 0x10, 0x01))).toThrow(OnnxFormatError);
  });
});
