/**
 * A model ready to answer requests: the decoded artifact, its compiled recipe and its learner,
 * with scratch buffers reused across calls so a single-row prediction allocates almost nothing.
 */
import type { EncodeOptions } from "../features/recipe.ts";
import { CompiledRecipe } from "../features/recipe.ts";
import { loadModel } from "../learn/index.ts";
import type { TrainedModel } from "../learn/types.ts";
import type { ModelArtifact } from "./artifact.ts";
import { decodeArtifact } from "./artifact.ts";

export interface Prediction {
  /** The class label, or the predicted value for regression. */
  readonly prediction: string | number;
  /** Probability per class label, for classification. */
  readonly probabilities?: Record<string, number>;
}

export class Predictor {
  readonly recipe: CompiledRecipe;
  readonly model: TrainedModel;
  private readonly row: Float64Array;
  private readonly out: Float64Array;

  constructor(readonly artifact: ModelArtifact) {
    this.recipe = new CompiledRecipe(artifact.header.recipe);
    this.model = loadModel(artifact.model);
    this.row = new Float64Array(this.recipe.width);
    this.out = new Float64Array(this.model.outputSize);
  }

  static fromBytes(bytes: Uint8Array): Predictor {
    return new Predictor(decodeArtifact(bytes));
  }

  get task() {
    return this.artifact.header.task;
  }

  /** Predict one record. Throws EncodeError (naming the field) for a value it cannot use. */
  predict(record: Readonly<Record<string, unknown>>, options: EncodeOptions = {}): Prediction {
    this.recipe.encodeRecord(record, this.row, options);
    this.model.predictRow(this.row, this.out);
    return this.interpret(this.out);
  }

  private interpret(out: Float64Array): Prediction {
    const task = this.artifact.header.task;
    if (task.kind === "regression") return { prediction: out[0] ?? Number.NaN };
    const classes = this.artifact.header.recipe.target.classes ?? [];
    const probabilities: Record<string, number> = {};
    let best = 0;
    if (task.kind === "binary") {
      const p1 = out[0] ?? 0;
      probabilities[classes[0] ?? "0"] = 1 - p1;
      probabilities[classes[1] ?? "1"] = p1;
      best = p1 >= 0.5 ? 1 : 0;
    } else {
      for (let k = 0; k < classes.length; k++) {
        const p = out[k] ?? 0;
        probabilities[classes[k] ?? String(k)] = p;
        if (p > (out[best] ?? 0)) best = k;
      }
    }
    return { prediction: classes[best] ?? String(best), probabilities };
  }
}
