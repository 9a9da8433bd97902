/**
 * What the SLO evaluator reads, as interfaces, so it does not depend on how metrics and drift
 * are stored: the metrics store answers window counts (from memory for the last hour, from the
 * persisted rollups beyond), the drift monitor answers whether an app's inputs have drifted.
 */
import type { Outcome } from "./observation.ts";

/** Requests of one app in a trailing window. */
export interface WindowCounts {
  readonly requests: number;
  readonly outcomes: Readonly<Record<Outcome, number>>;
  /** Requests whose latency exceeded the `slowerThanMs` asked for (0 when not asked). */
  readonly slower: number;
  /** 95th percentile latency over the window, ms; null without requests. */
  readonly p95: number | null;
}

export interface MetricsSource {
  /**
   * Counts over the last `windowSeconds` (up to the rollup retention) for one app, all its
   * versions or one (`version`).
   */
  windowCounts(
    workspaceId: string,
    app: string,
    windowSeconds: number,
    options?: { readonly version?: number; readonly slowerThanMs?: number },
  ): Promise<WindowCounts>;
}

/** An app version's dataset-level drift now, or null when it has too little data to judge. */
export interface DatasetDrift {
  readonly version: number;
  readonly drifted: boolean;
  readonly share: number;
  readonly driftedFeatures: readonly string[];
  readonly rows: number;
}

export interface DriftSource {
  datasetDrift(workspaceId: string, app: string): DatasetDrift | null;
}
