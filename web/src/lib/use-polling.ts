/**
 * Live data for a page: load now, then every `intervalMs` while `live` is on and the tab is
 * visible (see poller.ts). The previous data is handed to each load, so a page that loads
 * several things at once can keep what it had when one of them fails. Data belongs to the
 * `deps` it was loaded for: when they change (another window or version), nothing is returned
 * until the new data arrives, never the old data under the new choice; turning `live` on or
 * off keeps it.
 */
import { type DependencyList, useEffect, useRef, useState } from "react";
import { Poller } from "./poller.ts";

export interface Polled<T> {
  readonly data: T | undefined;
  /** The last load's failure; cleared by the next success. */
  readonly error: unknown;
  /** When the data last arrived. */
  readonly updatedAt: Date | undefined;
}

interface Held<T> extends Polled<T> {
  readonly deps: DependencyList;
}

const EMPTY: Polled<never> = { data: undefined, error: undefined, updatedAt: undefined };

function sameDeps(a: DependencyList, b: DependencyList): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

export function usePolling<T>(
  load: (signal: AbortSignal, previous: T | undefined) => Promise<T>,
  deps: DependencyList,
  options: { readonly intervalMs: number; readonly live: boolean },
): Polled<T> {
  const [state, setState] = useState<Held<T>>({ ...EMPTY, deps });
  const loadRef = useRef(load);
  loadRef.current = load;
  const held = useRef(state);
  held.current = state;
  const { intervalMs, live } = options;

  // biome-ignore lint/correctness/useExhaustiveDependencies: deps are the caller's inputs.
  useEffect(() => {
    const poller = new Poller(
      async (signal) => {
        const before = held.current;
        const previous = sameDeps(before.deps, deps) ? before.data : undefined;
        try {
          const data = await loadRef.current(signal, previous);
          if (signal.aborted) return;
          setState({ data, error: undefined, updatedAt: new Date(), deps });
        } catch (error) {
          if (signal.aborted) return;
          setState((s) => (sameDeps(s.deps, deps) ? { ...s, error } : { ...EMPTY, error, deps }));
        }
      },
      { intervalMs, repeat: live, visibility: document },
    );
    poller.start();
    return () => poller.stop();
  }, [...deps, intervalMs, live]);

  return sameDeps(state.deps, deps) ? state : EMPTY;
}
