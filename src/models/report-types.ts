/**
 * The training report's shapes: computed on the hold-out rows when a model is trained, stored
 * in the artifact's training summary, and sent by `GET /v1/models/{ref}/report`. Types only,
 * with no imports, so the Studio can use them through src/server/api-types.ts without pulling
 * in server code.
 */

/** Why a column is not among the model's inputs. */
export type ExclusionKind = "id" | "constant" | "leak" | "user" | "unsupported";

export interface ExcludedColumnReport {
  readonly column: string;
  readonly kind: ExclusionKind;
  /** In plain words, for the person who uploaded the data. */
  readonly reason: string;
}

export interface RocPoint {
  readonly fpr: number;
  readonly tpr: number;
  /** Score from which rows count as positive; null for the (0, 0) corner. */
  readonly threshold: number | null;
}

export interface RocCurve {
  readonly auc: number;
  /** From (0, 0) to (1, 1), at most 200 points. */
  readonly points: readonly RocPoint[];
}

export interface ClassificationReport {
  /** Class labels; index = class index in the confusion matrix. */
  readonly classes: readonly string[];
  /** Binary: the class the ROC curve and probabilities are about. */
  readonly positive?: string;
  /** Binary: the ROC curve of the positive class. */
  readonly roc?: RocCurve;
  /** Multiclass (up to 10 classes): one-vs-rest ROC curves, at most 100 points each. */
  readonly rocByClass?: readonly (RocCurve & { readonly class: string })[];
  /** counts[actual][predicted] over the hold-out rows. */
  readonly confusion: {
    readonly labels: readonly string[];
    readonly counts: readonly (readonly number[])[];
  };
  readonly accuracy: number;
  /** Accuracy of always answering the most common class, for comparison. */
  readonly baselineAccuracy: number;
  readonly mostCommonClass: string;
}

export interface RegressionReport {
  /** Up to 500 hold-out rows (a seeded sample): actual against predicted. */
  readonly points: readonly { readonly actual: number; readonly predicted: number }[];
  /** The same rows: residual = actual − predicted. */
  readonly residuals: readonly { readonly predicted: number; readonly residual: number }[];
  readonly r2: number;
  readonly rmse: number;
  readonly mae: number;
  /** Mean of the actual values, to put the errors in proportion. */
  readonly meanActual: number;
}

export interface SampleExplanation {
  readonly class?: string;
  readonly scale: "log-odds" | "softmax-logit" | "raw" | "log";
  readonly base: number;
  readonly contributions: Record<string, number>;
}

/** One hold-out row as the published app would answer it. */
export interface SamplePrediction {
  /** The input columns, as a caller of the app sends them. */
  readonly record: Record<string, string | number | boolean | null>;
  readonly actual: string | number;
  readonly prediction: string | number;
  readonly probabilities?: Record<string, number>;
  /** Feature contributions, when the model can explain itself. */
  readonly explanation?: SampleExplanation;
}

export interface TrainingReport {
  readonly formatVersion: 1;
  /** Hold-out rows the charts and metrics are computed on (never seen by the scored model). */
  readonly holdoutRows: number;
  readonly classification?: ClassificationReport;
  readonly regression?: RegressionReport;
  /** Every column not used, with why (target analysis, the same as the Studio showed). */
  readonly excluded: readonly ExcludedColumnReport[];
  /**
   * Up to 5 hold-out rows with what the published model answers for them. The published model
   * was refitted on every row, these included; the charts above come from the model that had
   * not seen them.
   */
  readonly samples: readonly SamplePrediction[];
}
