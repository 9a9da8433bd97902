/**
 * What a shadow release learns: the candidate's answers to a copy of production traffic,
 * compared with the answers production sent. Labels are compared by agreement, numbers by
 * mean absolute difference, and both versions' model time by percentiles, so a person can
 * see before promoting whether the candidate would have answered the same, and as fast.
 */

/** One row's answer, as both versions give it. */
export interface ComparedAnswer {
  readonly prediction: unknown;
}

export interface ShadowSummary {
  /** Production requests mirrored to the candidate and answered by it. */
  readonly requests: number;
  /** Rows compared (a batch request has several). */
  readonly rows: number;
  /** Rows with a label answer (classification), and the share on which both agreed. */
  readonly labelRows: number;
  readonly agreement: number | null;
  /** Rows with a numeric answer (regression), and the mean |candidate - production|. */
  readonly numericRows: number;
  readonly meanAbsDiff: number | null;
  /** Model time per request, ms: production's and the candidate's (on the same inputs). */
  readonly stableModelMs: { readonly p50: number | null; readonly p95: number | null };
  readonly candidateModelMs: { readonly p50: number | null; readonly p95: number | null };
  /** Mirrored requests the candidate failed (its error is never the caller's). */
  readonly candidateErrors: number;
  /** Requests not mirrored because the candidate already had its most calls in flight. */
  readonly skipped: number;
}

/** Latencies kept for percentiles: a reservoir, so memory stays bounded on a long shadow. */
const RESERVOIR = 4096;

class Reservoir {
  private readonly values: number[] = [];
  private seen = 0;
  add(v: number, random: () => number): void {
    this.seen++;
    if (this.values.length < RESERVOIR) this.values.push(v);
    else {
      const j = Math.floor(random() * this.seen);
      if (j < RESERVOIR) this.values[j] = v;
    }
  }
  percentile(p: number): number | null {
    if (this.values.length === 0) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
    return sorted[Math.max(0, rank)] as number;
  }
}

export class ShadowComparison {
  private requests = 0;
  private rows = 0;
  private labelRows = 0;
  private agreed = 0;
  private numericRows = 0;
  private absDiff = 0;
  private candidateErrors = 0;
  private skipped = 0;
  private readonly stableMs = new Reservoir();
  private readonly candidateMs = new Reservoir();

  constructor(private readonly random: () => number = Math.random) {}

  /** Both versions' answers to the same records, row by row, and their model times. */
  add(
    stable: readonly ComparedAnswer[],
    candidate: readonly ComparedAnswer[],
    stableModelMs: number | undefined,
    candidateModelMs: number | undefined,
  ): void {
    this.requests++;
    const n = Math.min(stable.length, candidate.length);
    for (let i = 0; i < n; i++) {
      const a = (stable[i] as ComparedAnswer).prediction;
      const b = (candidate[i] as ComparedAnswer).prediction;
      this.rows++;
      if (typeof a === "number" && typeof b === "number") {
        this.numericRows++;
        this.absDiff += Math.abs(a - b);
      } else {
        this.labelRows++;
        if (String(a) === String(b)) this.agreed++;
      }
    }
    if (stableModelMs !== undefined) this.stableMs.add(stableModelMs, this.random);
    if (candidateModelMs !== undefined) this.candidateMs.add(candidateModelMs, this.random);
  }

  /** A mirrored request the candidate failed. */
  countFailure(): void {
    this.candidateErrors++;
  }

  /** A request not mirrored: the candidate already had its most calls in flight. */
  countSkipped(): void {
    this.skipped++;
  }

  summary(): ShadowSummary {
    return {
      requests: this.requests,
      rows: this.rows,
      labelRows: this.labelRows,
      agreement: this.labelRows > 0 ? this.agreed / this.labelRows : null,
      numericRows: this.numericRows,
      meanAbsDiff: this.numericRows > 0 ? this.absDiff / this.numericRows : null,
      stableModelMs: { p50: this.stableMs.percentile(50), p95: this.stableMs.percentile(95) },
      candidateModelMs: {
        p50: this.candidateMs.percentile(50),
        p95: this.candidateMs.percentile(95),
      },
      candidateErrors: this.candidateErrors,
      skipped: this.skipped,
    };
  }
}
