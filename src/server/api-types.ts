/**
 * The shapes of the public API's bodies, shared by the server, the CLI and (later) the Studio,
 * so a field renamed on one side fails type-checking on the other.
 */
import type { ColumnSchema, Profile } from "../data/frame.ts";
import type { Role } from "./auth.ts";

export interface DatasetDto {
  readonly id: string;
  readonly name: string;
  readonly format: string;
  readonly fileName: string;
  readonly sizeBytes: number;
  readonly rowCount: number;
  readonly columns: readonly ColumnSchema[];
  readonly profile?: Profile;
  readonly createdAt: string;
}

export interface TrainRequest {
  readonly dataset: string;
  readonly target: string;
  /** Model name; defaults to the dataset's name. */
  readonly name?: string;
  readonly metric?: string;
  readonly timeBudgetSeconds?: number;
  readonly exclude?: readonly string[];
  readonly seed?: number;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface TrainProgressDto {
  readonly fraction: number;
  readonly message: string;
  readonly candidatesTried: number;
  readonly candidatesPlanned: number;
  readonly best?: { readonly learner: string; readonly score: number };
  readonly elapsedMs: number;
  readonly timeBudgetMs: number;
}

export interface JobDto {
  readonly id: string;
  readonly kind: string;
  readonly status: JobStatus;
  readonly input: TrainRequest;
  readonly progress?: TrainProgressDto;
  /** For a finished training job: the model version it registered. */
  readonly result?: {
    readonly model: string;
    readonly version: number;
    readonly modelVersionId: string;
  };
  readonly error?: { readonly code: string; readonly message: string };
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ModelVersionDto {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly task: string;
  readonly target: string;
  readonly learner: string;
  readonly metrics: {
    readonly metric: string;
    readonly cv: Record<string, number>;
    readonly holdout: Record<string, number>;
  };
  readonly datasetId?: string;
  readonly artifactSha256: string;
  readonly createdAt: string;
}

export interface ModelDetailDto extends ModelVersionDto {
  readonly classes?: readonly string[];
  readonly inputs: readonly ColumnSchema[];
  readonly excluded: readonly { readonly column: string; readonly reason: string }[];
  readonly chosen: { readonly learner: string; readonly params: Record<string, unknown> };
  readonly candidates: readonly {
    readonly learner: string;
    readonly params: Record<string, unknown>;
    readonly cvScore: number;
    readonly fitMs: number;
  }[];
  readonly importance: readonly { readonly feature: string; readonly importance: number }[];
  /** Mean |SHAP| per feature over `rows` training rows, in the model's raw-margin units. */
  readonly shapImportance?: {
    readonly rows: number;
    readonly features: readonly { readonly feature: string; readonly importance: number }[];
  };
}

export interface AppDto {
  readonly name: string;
  readonly version: number;
  readonly model: { readonly name: string; readonly version: number };
  readonly task: string;
  readonly endpoint: string;
  readonly createdAt: string;
  readonly deployedAt: string;
}

export interface AppDetailDto extends AppDto {
  readonly spec: unknown;
  readonly inputSchema: Record<string, unknown>;
  readonly outputSchema: Record<string, unknown>;
}

export interface KeyDto {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly prefix: string;
  readonly createdAt: string;
  readonly lastUsedAt?: string;
  readonly revokedAt?: string;
}

/** Present on a prediction when the request asks for it with `?explain=true`. */
export interface ExplanationDto {
  readonly class?: string;
  readonly scale: "log-odds" | "softmax-logit" | "raw" | "log";
  readonly base: number;
  readonly contributions: Record<string, number>;
}

export interface PredictionDto {
  readonly prediction: string | number;
  readonly probabilities?: Record<string, number>;
  readonly explanation?: ExplanationDto;
}

export interface PredictResponseDto {
  readonly request_id: string;
  readonly app: string;
  readonly app_version: number;
  readonly model: { readonly name: string; readonly version: number };
  readonly prediction?: string | number;
  readonly probabilities?: Record<string, number>;
  readonly explanation?: ExplanationDto;
  readonly predictions?: readonly PredictionDto[];
}
