/**
 * The runtime's policies: what keeps a published app answering under load and faults. Each is
 * usable on its own; the pipeline and the predict route compose them (rate limit → bulkhead →
 * request deadline → steps, each external step inside its StepGuard).
 */

export {
  type BreakerState,
  StepBreaker,
  StepGuard,
  type StepGuardCounters,
  type StepGuardSettings,
} from "./breaker.ts";
export { Bulkhead, type BulkheadOptions } from "./bulkhead.ts";
export {
  type Deadline,
  deadlineSignal,
  type WithDeadlineOptions,
  withDeadline,
} from "./deadline.ts";
export {
  createRateLimiter,
  type RateLimitBucket,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitScope,
  type RateLimitVerdict,
  UNLIMITED,
} from "./rate-limit.ts";
