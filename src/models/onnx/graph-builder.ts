/**
 * A small builder for ONNX graphs: unique value names, nodes, constant initializers and typed
 * attribute helpers. The exporter and the tests (which build networks by hand to exercise the
 * importer independently of the exporter) both use it, so neither has to spell out protobuf
 * objects field by field.
 */
import type {
  AttributeProto,
  GraphProto,
  ModelProto,
  NodeProto,
  TensorProto,
  ValueInfoProto,
} from "./onnx-proto.ts";
import { AttributeType, DataType, IR_VERSION } from "./onnx-proto.ts";

const utf8 = new TextEncoder();

/** Attribute constructors, one per ONNX attribute type the exporter uses. */
export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i }),
  float: (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f }),
  string: (name: string, s: string): AttributeProto => ({
    name,
    type: AttributeType.STRING,
    s: utf8.encode(s),
  }),
  ints: (name: string, ints: ArrayLike<number>): AttributeProto => ({
    name,
    type: AttributeType.INTS,
    ints: Array.from(ints),
  }),
  floats: (name: string, floats: ArrayLike<number>): AttributeProto => ({
    name,
    type: AttributeType.FLOATS,
    floats: Array.from(floats),
  }),
  strings: (name: string, strings: readonly string[]): AttributeProto => ({
    name,
    type: AttributeType.STRINGS,
    strings: strings.map((s) => utf8.encode(s)),
  }),
  tensor: (name: string, t: TensorProto): AttributeProto => ({
    name,
    type: AttributeType.TENSOR,
    t,
  }),
};

/** A float32 tensor stored as little-endian raw bytes (compact, and exact for float32 values). */
export function floatTensor(
  name: string,
  dims: readonly number[],
  values: ArrayLike<number>,
): TensorProto {
  const data = Float32Array.from(values as ArrayLike<number>);
  checkSize(name, dims, data.length);
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: raw };
}

/** An int64 tensor (values must be safe integers). */
export function int64Tensor(
  name: string,
  dims: readonly number[],
  values: ArrayLike<number>,
): TensorProto {
  checkSize(name, dims, values.length);
  const data = Array.from(values);
  for (const v of data)
    if (!Number.isSafeInteger(v)) throw new RangeError(`${name}: ${v} is not a safe integer`);
  return { name, dims: [...dims], dataType: DataType.INT64, int64Data: data };
}

/** A string tensor (UTF-8). */
export function stringTensor(
  name: string,
  dims: readonly number[],
  values: readonly string[],
): TensorProto {
  checkSize(name, dims, values.length);
  return {
    name,
    dims: [...dims],
    dataType: DataType.STRING,
    stringData: values.map((s) => utf8.encode(s)),
  };
}

function checkSize(name: string, dims: readonly number[], length: number): void {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length)
    throw new RangeError(`${name}: ${length} values for shape [${dims.join(", ")}]`);
}

/** A tensor-typed value info; a string dimension is symbolic (e.g. "N" for the batch). */
export function tensorInfo(
  name: string,
  elemType: number,
  dims: readonly (number | string)[],
): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/** Accumulates nodes and initializers; names values uniquely. */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A value name not used before, starting with `prefix`. */
  fresh(prefix: string): string {
    let name = prefix;
    while (this.used.has(name)) name = `${prefix}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Reserve names the caller chooses (graph inputs and outputs). */
  reserve(...names: string[]): void {
    for (const n of names) {
      if (this.used.has(n)) throw new Error(`value name ${n} is already used`);
      this.used.add(n);
    }
  }

  /** Add a constant; returns its (unique) name. */
  constant(tensor: TensorProto): string {
    const name = this.fresh(tensor.name || "const");
    this.initializers.push({ ...tensor, name });
    return name;
  }

  /** Add a node; returns its output names (fresh unless given). */
  node(
    opType: string,
    inputs: readonly string[],
    options: {
      outputs?: readonly string[];
      outputCount?: number;
      attributes?: readonly AttributeProto[];
      domain?: string;
    } = {},
  ): string[] {
    const outputs =
      options.outputs !== undefined
        ? [...options.outputs]
        : Array.from({ length: options.outputCount ?? 1 }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: [...inputs],
      output: outputs,
      name: this.fresh(`node_${opType}`),
      ...(options.domain ? { domain: options.domain } : {}),
      ...(options.attributes?.length ? { attribute: [...options.attributes] } : {}),
    });
    return outputs;
  }

  /** A node with one output; returns its name. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: readonly AttributeProto[] = [],
    output?: string,
  ): string {
    const [out] = this.node(opType, inputs, {
      attributes,
      ...(output !== undefined ? { outputs: [output] } : {}),
    });
    return out as string;
  }

  build(inputs: readonly ValueInfoProto[], outputs: readonly ValueInfoProto[]): GraphProto {
    return {
      name: this.name,
      node: [...this.nodes],
      initializer: [...this.initializers],
      input: [...inputs],
      output: [...outputs],
    };
  }
}

/** Wrap a graph as a model with the given opset imports. */
export function makeModel(
  graph: GraphProto,
  opsets: Readonly<Record<string, number>>,
  extra: Partial<ModelProto> = {},
): ModelProto {
  return {
    irVersion: IR_VERSION,
    opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    graph,
    ...extra,
  };
}
