/**
 * The version router: which loaded version answers one production request while a release
 * rolls out. It runs on every request, so it does no I/O and allocates nothing:
 *
 * - canary: the candidate's share of requests, drawn at random per request;
 * - A/B: a sticky split, the same caller always in the same arm: FNV-1a of the release id
 *   and the caller's key (the plan's split header, e.g. a user id) or, without one, of the
 *   request id (then each request is its own draw);
 * - shadow: production answers every request; a share of them is also mirrored to the
 *   candidate after the response is sent.
 */
import type { PublishedApp, Serving } from "./app-runtime.ts";

export interface Routed {
  /** The version that answers. */
  readonly app: PublishedApp;
  /** The version that also sees this request, off the response path (shadow releases). */
  readonly shadow: PublishedApp | undefined;
}

/** FNV-1a 32-bit over two strings, as a share in [0, 100). */
export function splitShare(releaseId: string, key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < releaseId.length; i++) {
    h ^= releaseId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= 0x2f; // "/" between the two, so ("ab","c") and ("a","bc") differ
  h = Math.imul(h, 0x01000193);
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) % 10_000) / 100;
}

export function routeRequest(
  serving: Serving,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  requestId: string,
  random: () => number = Math.random,
): Routed {
  const rollout = serving.rollout;
  if (!rollout) return { app: serving.stable, shadow: undefined };
  switch (rollout.strategy) {
    case "canary":
      return {
        app: random() * 100 < rollout.percent ? rollout.candidate : serving.stable,
        shadow: undefined,
      };
    case "ab": {
      const given = headers[rollout.splitHeader];
      const key = typeof given === "string" && given !== "" ? given : requestId;
      return {
        app:
          splitShare(rollout.releaseId, key) < rollout.percent ? rollout.candidate : serving.stable,
        shadow: undefined,
      };
    }
    case "shadow":
      return {
        app: serving.stable,
        shadow: random() * 100 < rollout.percent ? rollout.candidate : undefined,
      };
  }
}
