/**
 * Who is signed in. The API key lives in sessionStorage (gone when the tab closes); on first
 * load the Studio asks the server for the local admin (`GET /v1/session/local`, answered only
 * on loopback with the embedded defaults) so a person on their own machine is signed in at once.
 * Signing out remembers that choice for the tab, so the local admin is not signed straight in
 * again.
 */
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { ApiClient, ApiRequestError } from "../api/client.ts";
import type { SessionDto } from "../api/types.ts";

const KEY_STORAGE = "ballast.apiKey";
const SIGNED_OUT_STORAGE = "ballast.signedOut";

export type SessionState =
  | { readonly status: "loading" }
  | {
      readonly status: "signed-out";
      /** The server offers the local admin (loopback, embedded defaults). */
      readonly localAvailable: boolean;
      readonly notice?: string;
    }
  | { readonly status: "signed-in"; readonly session: SessionDto };

export interface SessionContextValue {
  readonly state: SessionState;
  readonly api: ApiClient;
  signIn(key: string): Promise<void>;
  signInLocal(): Promise<void>;
  signOut(): void;
}

const SessionContext = createContext<SessionContextValue | undefined>(undefined);

function readStorage(name: string): string | undefined {
  try {
    return sessionStorage.getItem(name) ?? undefined;
  } catch {
    return undefined;
  }
}

function writeStorage(name: string, value: string | undefined): void {
  try {
    if (value === undefined) sessionStorage.removeItem(name);
    else sessionStorage.setItem(name, value);
  } catch {
    // Storage can be disabled; the session then lasts as long as the page.
  }
}

export function workspaceName(session: SessionDto): string {
  return session.workspace;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const keyRef = useRef<string | undefined>(readStorage(KEY_STORAGE));
  const [state, setState] = useState<SessionState>({ status: "loading" });

  const expire = useCallback(() => {
    keyRef.current = undefined;
    writeStorage(KEY_STORAGE, undefined);
    setState({
      status: "signed-out",
      localAvailable: false,
      notice: "Your API key is no longer valid. Sign in again.",
    });
  }, []);

  const api = useMemo(() => new ApiClient(() => keyRef.current, expire), [expire]);

  /** Check a key with the server; throws the API's error when it is refused. */
  const verify = useCallback(async (key: string): Promise<SessionDto> => {
    const probe = new ApiClient(() => key);
    return probe.get<SessionDto>("/v1/session");
  }, []);

  const localKey = useCallback(async (): Promise<string | undefined> => {
    try {
      const body = await new ApiClient(() => undefined).get<{ key?: unknown }>("/v1/session/local");
      return typeof body?.key === "string" ? body.key : undefined;
    } catch (error) {
      if (error instanceof ApiRequestError && (error.status === 404 || error.status === 403))
        return undefined;
      throw error;
    }
  }, []);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const stored = keyRef.current;
      if (stored) {
        try {
          const session = await verify(stored);
          if (!cancelled) setState({ status: "signed-in", session });
          return;
        } catch (error) {
          if (!(error instanceof ApiRequestError && error.status === 401)) {
            if (!cancelled)
              setState({
                status: "signed-out",
                localAvailable: false,
                notice: error instanceof Error ? error.message : String(error),
              });
            return;
          }
          keyRef.current = undefined;
          writeStorage(KEY_STORAGE, undefined);
        }
      }
      let local: string | undefined;
      try {
        local = await localKey();
      } catch {
        local = undefined;
      }
      if (cancelled) return;
      if (local && readStorage(SIGNED_OUT_STORAGE) !== "1") {
        try {
          const session = await verify(local);
          keyRef.current = local;
          writeStorage(KEY_STORAGE, local);
          if (!cancelled) setState({ status: "signed-in", session });
          return;
        } catch {
          // Fall through to the sign-in page.
        }
      }
      if (!cancelled) setState({ status: "signed-out", localAvailable: local !== undefined });
    })();
    return () => {
      cancelled = true;
    };
  }, [verify, localKey]);

  const signIn = useCallback(
    async (key: string) => {
      const session = await verify(key.trim());
      keyRef.current = key.trim();
      writeStorage(KEY_STORAGE, key.trim());
      writeStorage(SIGNED_OUT_STORAGE, undefined);
      setState({ status: "signed-in", session });
    },
    [verify],
  );

  const signInLocal = useCallback(async () => {
    const key = await localKey();
    if (!key) throw new ApiRequestError(404, "not_found", "The local admin is not available here");
    await signIn(key);
  }, [localKey, signIn]);

  const signOut = useCallback(() => {
    keyRef.current = undefined;
    writeStorage(KEY_STORAGE, undefined);
    writeStorage(SIGNED_OUT_STORAGE, "1");
    setState({ status: "signed-out", localAvailable: false, notice: "You are signed out." });
    localKey().then(
      (key) => {
        if (key)
          setState((prev) =>
            prev.status === "signed-out" ? { ...prev, localAvailable: true } : prev,
          );
      },
      () => {},
    );
  }, [localKey]);

  const value = useMemo(
    () => ({ state, api, signIn, signInLocal, signOut }),
    [state, api, signIn, signInLocal, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** The API client of the signed-in session. */
export function useApi(): ApiClient {
  return useSession().api;
}

/** The signed-in session (pages under the shell are only rendered when there is one). */
export function useSignedIn(): SessionDto {
  const { state } = useSession();
  if (state.status !== "signed-in") throw new Error("useSignedIn outside a signed-in page");
  return state.session;
}
