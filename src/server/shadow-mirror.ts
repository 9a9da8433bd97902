/**
 * Shadow traffic: after production has answered a request, the same records go to the
 * release's candidate, on a later turn of the event loop so the caller never waits for it.
 * The candidate's answers are discarded, only compared (src/release/shadow-comparison.ts).
 * At most `maxInFlight` mirrored calls run at once; beyond that a request is skipped, never
 * queued, so a slow candidate cannot build up memory or steal the event loop from production.
 */

import { ShadowComparison } from "../release/shadow-comparison.ts";
import type { RowAnswer } from "../runtime/pipeline/pipeline.ts";
import type { PublishedApp } from "./app-runtime.ts";

export interface MirrorRequest {
  readonly releaseId: string;
  readonly maxInFlight: number;
  readonly candidate: PublishedApp;
  readonly records: readonly Record<string, unknown>[];
  readonly stableAnswers: readonly RowAnswer[];
  readonly stableModelMs: number | undefined;
}

export class ShadowMirror {
  private readonly comparisons = new Map<string, ShadowComparison>();
  private readonly inFlight = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();

  /** The comparison of one release so far (on this replica). */
  comparison(releaseId: string): ShadowComparison {
    let c = this.comparisons.get(releaseId);
    if (!c) {
      c = new ShadowComparison();
      this.comparisons.set(releaseId, c);
    }
    return c;
  }

  /** Forget a release that has ended (its comparison was shown while it ran). */
  forget(releaseId: string): void {
    this.comparisons.delete(releaseId);
  }

  mirror(request: MirrorRequest): void {
    const comparison = this.comparison(request.releaseId);
    const busy = this.inFlight.get(request.releaseId) ?? 0;
    if (busy >= request.maxInFlight) {
      comparison.countSkipped();
      return;
    }
    this.inFlight.set(request.releaseId, busy + 1);
    const done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run(request, comparison))
      .finally(() => {
        this.inFlight.set(request.releaseId, (this.inFlight.get(request.releaseId) ?? 1) - 1);
        this.running.delete(done);
      });
    this.running.add(done);
  }

  private async run(request: MirrorRequest, comparison: ShadowComparison): Promise<void> {
    const runtime = request.candidate.runtime;
    try {
      const result = await runtime.pipeline.runDetached(
        request.records,
        runtime.policies.timeouts.requestMs,
      );
      comparison.add(request.stableAnswers, result.answers, request.stableModelMs, result.modelMs);
    } catch {
      comparison.countFailure();
    }
  }

  /** Wait for mirrored calls still running (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
