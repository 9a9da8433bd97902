/**
 * The session step: conversation state for apps that need it, kept only in the session store
 * (keyed by workspace, app and the caller's `x-session-id`, with a TTL), never in the process.
 * Fields the caller sent earlier in the session fill the ones this request leaves out; then
 * this request's fields are remembered for the next turn.
 */
import type { SessionState, SessionStore } from "../../store/sessions/session-store.ts";
import { InvalidInputError } from "../errors.ts";

export interface SessionSettings {
  readonly ttlSeconds: number;
  readonly maxTurns: number;
}

/** What the response says about the session. */
export interface SessionTurn {
  readonly id: string;
  /** 1 for the session's first request. */
  readonly turn: number;
  /** Fields taken from earlier turns because this request left them out. */
  readonly remembered: readonly string[];
}

export const SESSION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Thrown inside the store's atomic update when the session has no turns left. */
class SessionFull extends Error {}

export async function sessionTurn(
  store: SessionStore,
  scope: string,
  sessionId: string,
  record: Record<string, unknown>,
  settings: SessionSettings,
): Promise<{ record: Record<string, unknown>; turn: SessionTurn }> {
  let merged: Record<string, unknown> = record;
  let remembered: string[] = [];
  let state: SessionState;
  try {
    state = await store.update(
      scope,
      sessionId,
      (previous) => {
        // Called again if the store retries an optimistic update: compute from `previous` only.
        if (previous && previous.turns >= settings.maxTurns) throw new SessionFull();
        const fields = previous?.fields ?? {};
        remembered = Object.keys(fields).filter((k) => !(k in record));
        merged = { ...fields, ...record };
        const now = new Date().toISOString();
        return {
          fields: merged,
          turns: (previous?.turns ?? 0) + 1,
          startedAt: previous?.startedAt ?? now,
          updatedAt: now,
        };
      },
      settings.ttlSeconds,
    );
  } catch (error) {
    if (!(error instanceof SessionFull)) throw error;
    throw new InvalidInputError(
      "session_full",
      `Session ${sessionId} has had its ${settings.maxTurns} turns; end it and start a new one`,
      [{ path: "header/x-session-id", message: "has no turns left" }],
      409,
    );
  }
  return { record: merged, turn: { id: sessionId, turn: state.turns, remembered } };
}
