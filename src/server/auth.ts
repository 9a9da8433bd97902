/**
 * API-key authentication and role checks. Keys are verified against the registry (which stores
 * only their hashes); a verified key is remembered briefly so the predict hot path does not
 * hit the database on every request, while a revoked key stops working within that window.
 */
import type { Role } from "./api-types.ts";
import { ApiError } from "./errors.ts";

export type { Role };
export const ROLES: readonly Role[] = ["admin", "builder", "viewer", "invoker"];

/** What a request may do. */
export type Permission =
  | "read" // list and inspect datasets, models, apps, jobs
  | "build" // import data, train, deploy
  | "invoke" // call published apps
  | "admin"; // manage keys

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ["read", "build", "invoke", "admin"],
  builder: ["read", "build", "invoke"],
  viewer: ["read"],
  invoker: ["invoke"],
};

export function can(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

export interface Principal {
  readonly keyId: string;
  readonly workspaceId: string;
  readonly role: Role;
}

export type VerifyKey = (plaintext: string) => Promise<Principal | undefined>;

/** Read the key from `Authorization: Bearer …` or `X-API-Key`. */
export function keyFromHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === "string") {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const header = headers["x-api-key"];
  return typeof header === "string" && header.length > 0 ? header : undefined;
}

/** Caches verified keys for `ttlMs`, keyed by the key's hash (never the plaintext). */
export function cachedVerifier(
  verify: VerifyKey,
  ttlMs = 5000,
  maxEntries = 10_000,
): VerifyKey & {
  clear(): void;
  /** The cached verdict for a key without waiting: undefined for a bad key, null if unknown. */
  peek(plaintext: string): Principal | undefined | null;
} {
  // Keyed by the key itself: it is in this process's memory with every request anyway, and
  // hashing it on each request cost more than the rest of authentication.
  const cache = new Map<string, { principal: Principal | undefined; expires: number }>();
  const fn = async (plaintext: string) => {
    const id = plaintext;
    const now = Date.now();
    const hit = cache.get(id);
    if (hit && hit.expires > now) return hit.principal;
    const principal = await verify(plaintext);
    if (cache.size >= maxEntries) cache.clear();
    cache.set(id, { principal, expires: now + ttlMs });
    return principal;
  };
  const peek = (plaintext: string): Principal | undefined | null => {
    const hit = cache.get(plaintext);
    return hit && hit.expires > Date.now() ? hit.principal : null;
  };
  return Object.assign(fn, { clear: () => cache.clear(), peek });
}

/** Any valid key, whatever its role (for "who am I" questions). */
export function requireKey(principal: Principal | undefined): Principal {
  if (!principal) {
    throw new ApiError(
      401,
      "unauthorized",
      "A valid API key is required (Authorization: Bearer <key>)",
    );
  }
  return principal;
}

export function requirePermission(
  principal: Principal | undefined,
  permission: Permission,
): Principal {
  if (!principal) {
    throw new ApiError(
      401,
      "unauthorized",
      "A valid API key is required (Authorization: Bearer <key>)",
    );
  }
  if (!can(principal.role, permission)) {
    throw new ApiError(
      403,
      "forbidden",
      `This API key has the ${principal.role} role, which may not ${describe(permission)}`,
    );
  }
  return principal;
}

function describe(permission: Permission): string {
  switch (permission) {
    case "read":
      return "read workspace resources";
    case "build":
      return "import data, train models or deploy apps";
    case "invoke":
      return "call published apps";
    case "admin":
      return "manage API keys";
  }
}
