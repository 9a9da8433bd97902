/**
 * Conversation state, explicitly: a request carrying `x-session-id` gets the fields its
 * session remembers filled in where the record lacks them, and its own fields remembered for
 * the next turn. The state lives only in the session store (keyed by workspace and session,
 * with a TTL and an explicit end), never in the step, so requests stay independent.
 */
import { defineStepKind } from "./step-kind.ts";

/** The `x-session-id` header's value: 1-128 characters of letters, digits and `._:-`. */
export const SESSION_ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$";

export interface SessionStepSettings {
  readonly ttlSeconds: number;
  readonly maxTurns: number;
}

export const sessionStep = defineStepKind({
  type: "session",
  title: "Session",
  description:
    "Remembers a conversation's fields between requests with the same x-session-id header and fills in the ones a request leaves out.",
  icon: "session",
  inputs: 1,
  outputs: 1,
  settings: {
    type: "object",
    additionalProperties: false,
    properties: {
      ttlSeconds: {
        title: "Session lifetime (s)",
        description: "A session unused this long is forgotten.",
        type: "integer",
        minimum: 1,
        maximum: 2_592_000,
        default: 1800,
      },
      maxTurns: {
        title: "Most turns",
        description: "Requests one session may make; a longer conversation starts a new session.",
        type: "integer",
        minimum: 1,
        maximum: 100_000,
        default: 50,
      },
    },
  },
  count: { min: 0, max: 1 },
  runsAfter: ["input"],
});
