/**
 * App specs for the runtime tests: the churn app's chain of steps with whatever steps and
 * policies a test adds, saved as the app's next version through the API (as the designer and
 * the CLI do).
 */
import { api, type Json } from "./server.ts";

export interface StepSketch {
  readonly id: string;
  readonly kind: string;
  readonly with?: Record<string, unknown>;
}

/**
 * A spec whose steps run in the order given between validate/model and output:
 * `input → [session] → validate → model(churn@1) → ...middle → output`.
 */
export function churnSpec(
  options: {
    readonly middle?: readonly StepSketch[];
    readonly session?: Record<string, unknown>;
    readonly policies?: Record<string, unknown>;
    readonly model?: { readonly name: string; readonly version: number };
  } = {},
): Record<string, unknown> {
  const chain: StepSketch[] = [
    { id: "input", kind: "input" },
    ...(options.session ? [{ id: "session", kind: "session", with: options.session }] : []),
    { id: "validate", kind: "validate" },
    { id: "model", kind: "model", with: { ...(options.model ?? { name: "churn", version: 1 }) } },
    ...(options.middle ?? []),
    { id: "output", kind: "output" },
  ];
  return {
    apiVersion: "ballast/v1",
    kind: "App",
    name: "churn",
    steps: chain.map((s, i) => ({
      id: s.id,
      kind: s.kind,
      ...(i > 0 ? { after: [chain[i - 1]?.id] } : {}),
      ...(s.with ? { with: s.with } : {}),
    })),
    ...(options.policies ? { policies: options.policies } : {}),
  };
}

/** Save a spec as the churn app's next version (deployed at once); throws with the server's reason. */
export async function saveSpec(
  server: { readonly url: string; readonly adminKey: string },
  spec: Record<string, unknown>,
): Promise<Json> {
  const call = api(server, server.adminKey);
  const saved = await call("POST", "/v1/apps/churn/versions", { spec });
  if (saved.status !== 201)
    throw new Error(`saving the spec answered ${saved.status}: ${JSON.stringify(saved.json)}`);
  return saved.json;
}
