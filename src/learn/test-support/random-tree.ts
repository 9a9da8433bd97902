/**
 * Random GBDT trees for property tests of code that reads a forest (compiled prediction,
 * TreeSHAP): root first, children anywhere after their parent, numeric splits on thresholds
 * the caller draws and categorical splits on random code sets. Internal nodes' cover is the
 * sum of their children's, as in a trained forest; leaves sometimes have no cover at all.
 */
import type { NodeDraft } from "../gbdt/forest.ts";
import type { Random } from "../random.ts";
import type { FeatureInfo } from "../types.ts";

export interface RandomTreeOptions {
  readonly maxDepth: number;
  /** A numeric split's threshold. */
  readonly threshold: (random: Random) => number;
  /** A leaf's output. */
  readonly leafValue: (random: Random) => number;
  /** Build the right subtree first half of the time, so children are not always in order. */
  readonly shuffleChildren?: boolean;
}

export function randomTree(
  random: Random,
  features: readonly FeatureInfo[],
  options: RandomTreeOptions,
): NodeDraft[] {
  const nodes: NodeDraft[] = [];
  const build = (depth: number): number => {
    const at = nodes.length;
    const node: NodeDraft = {
      feature: -1,
      threshold: 0,
      leftCodes: null,
      defaultLeft: random.nextFloat() < 0.5,
      left: -1,
      right: -1,
      value: options.leafValue(random),
      gain: 0,
      cover: random.nextInt(5) === 0 ? 0 : 1 + random.nextInt(20),
    };
    nodes.push(node);
    if (depth >= options.maxDepth || random.nextFloat() < 0.25) return at;
    const f = random.nextInt(features.length);
    const info = features[f] as FeatureInfo;
    node.feature = f;
    node.value = 0;
    node.gain = random.nextFloat();
    if (info.kind === "categorical") {
      const codes: number[] = [];
      for (let c = 0; c < (info.cardinality ?? 1); c++) if (random.nextFloat() < 0.5) codes.push(c);
      node.leftCodes = Uint32Array.from(codes);
    } else {
      node.threshold = options.threshold(random);
    }
    if (options.shuffleChildren && random.nextFloat() < 0.5) {
      node.right = build(depth + 1);
      node.left = build(depth + 1);
    } else {
      node.left = build(depth + 1);
      node.right = build(depth + 1);
    }
    node.cover = (nodes[node.left]?.cover ?? 0) + (nodes[node.right]?.cover ?? 0);
    return at;
  };
  build(0);
  return nodes;
}
