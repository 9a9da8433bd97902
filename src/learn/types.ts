/**
 * The contract between feature preparation (Recipe) and the learners. A learner never sees
 * strings or records: only a dense numeric matrix whose columns the Recipe describes.
 */

/** How the Recipe encoded one column of the matrix. */
export interface FeatureInfo {
  readonly name: string;
  /**
   * numeric: any finite number, NaN = missing.
   * categorical: integer codes 0..cardinality-1, NaN = missing. The last code
   * (cardinality - 1) is the "unknown" bucket for categories unseen in training.
   */
  readonly kind: "numeric" | "categorical";
  /** Number of codes for categorical features, including the unknown bucket. */
  readonly cardinality?: number;
}

/** A dense column-major matrix: value of (row r, feature f) is data[f * rowCount + r]. */
export interface FeatureMatrix {
  readonly rowCount: number;
  readonly features: readonly FeatureInfo[];
  readonly data: Float64Array;
}

export type TaskKind = "binary" | "multiclass" | "regression";

export interface Task {
  readonly kind: TaskKind;
  /** 2 for binary, K for multiclass, 0 for regression. */
  readonly classCount: number;
}

/**
 * Labels: class index 0..K-1 (as a float) for classification, the value for regression.
 * For binary tasks class 1 is the positive class.
 */
export type Labels = Float64Array;

/** Progress a learner reports while it fits, so a person sees it move. */
export interface FitProgress {
  /** 0..1 of this fit. */
  readonly fraction: number;
  readonly message?: string;
}

export interface FitOptions {
  readonly seed?: number;
  /** Rows held out for early stopping (indices into the matrix), if the learner supports it. */
  readonly validation?: { readonly X: FeatureMatrix; readonly y: Labels };
  readonly onProgress?: (progress: FitProgress) => void;
  /** Checked between iterations; a fit that sees it aborted throws an AbortError. */
  readonly signal?: AbortSignal;
}

/**
 * Serialized form of a trained model: a small JSON header plus named typed arrays, which the
 * artifact format (src/models) stores as raw bytes.
 */
export interface SerializedModel {
  readonly learner: string;
  readonly meta: Record<string, unknown>;
  readonly arrays: Record<
    string,
    Float64Array | Float32Array | Int32Array | Uint8Array | Uint32Array
  >;
}

export interface TrainedModel {
  readonly learner: string;
  readonly task: Task;
  /**
   * Output width: 1 for binary (probability of class 1) and regression (value), K for
   * multiclass (probabilities summing to 1).
   */
  readonly outputSize: number;
  /** Predict one row (length = feature count) into out (length = outputSize). No allocation. */
  predictRow(row: Float64Array, out: Float64Array): void;
  /** Predict every row of X: row-major result of rowCount * outputSize. */
  predictBatch(X: FeatureMatrix): Float64Array;
  /** Per-feature importance (non-negative, any scale), for the report. */
  featureImportance(): Float64Array;
  serialize(): SerializedModel;
  /**
   * Optional: explain one prediction as additive feature contributions (SHAP values), so a
   * person can see why the model scored a row as it did. Writes (featureCount + 1) * outputSize
   * values into out: for output c, out[c * (F + 1) + f] is feature f's contribution and
   * out[c * (F + 1) + F] the bias (the expected score). Per output they sum to the raw margin:
   * the log-odds for binary, the class's softmax input for multiclass, and for regression the
   * score before the inverse link (the prediction itself, or its logarithm for log-link models
   * such as log-target and Poisson). No allocation.
   */
  explainRow?(row: Float64Array, out: Float64Array): void;
}

/** A learner: a name, its hyperparameters, and how to fit and load. */
export interface Learner<P = Record<string, unknown>> {
  readonly name: string;
  fit(X: FeatureMatrix, y: Labels, task: Task, params: P, options?: FitOptions): TrainedModel;
}
