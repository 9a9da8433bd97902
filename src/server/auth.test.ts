import { describe, expect, it } from "vitest";
import {
  cachedVerifier,
  can,
  keyFromHeaders,
  type Principal,
  ROLES,
  requirePermission,
} from "./auth.ts";
import { ApiError } from "./errors.ts";

describe("roles", () => {
  it("grant exactly what the README says", () => {
    const table = Object.fromEntries(
      ROLES.map((r) => [
        r,
        (["read", "build", "invoke", "admin"] as const).filter((p) => can(r, p)),
      ]),
    );
    expect(table).toEqual({
      admin: ["read", "build", "invoke", "admin"],
      builder: ["read", "build", "invoke"],
      viewer: ["read"],
      invoker: ["invoke"],
    });
  });

  it("401 without a principal, 403 naming the role without the permission", () => {
    expect(() => requirePermission(undefined, "read")).toThrow(
      expect.objectContaining({ statusCode: 401 }),
    );
    const viewer: Principal = { keyId: "k", workspaceId: "w", role: "viewer" };
    try {
      requirePermission(viewer, "invoke");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).statusCode).toBe(403);
      expect((error as ApiError).message).toContain("viewer");
    }
  });
});

describe("keyFromHeaders", () => {
  it("reads Bearer tokens and X-API-Key, nothing else", () => {
    expect(keyFromHeaders({ authorization: "Bearer blst_abc" })).toBe("blst_abc");
    expect(keyFromHeaders({ authorization: "bearer   blst_abc  " })).toBe("blst_abc");
    expect(keyFromHeaders({ "x-api-key": "blst_x" })).toBe("blst_x");
    expect(keyFromHeaders({ authorization: "Basic Zm9vOmJhcg==" })).toBeUndefined();
    expect(keyFromHeaders({})).toBeUndefined();
  });
});

describe("cachedVerifier", () => {
  it("asks the registry once per key within the TTL, and again after clear()", async () => {
    let calls = 0;
    const verify = cachedVerifier(async (key) => {
      calls++;
      return key === "good" ? { keyId: "k", workspaceId: "w", role: "admin" as const } : undefined;
    }, 60_000);
    expect(await verify("good")).toBeDefined();
    expect(await verify("good")).toBeDefined();
    expect(await verify("bad")).toBeUndefined();
    expect(calls).toBe(2);
    verify.clear();
    await verify("good");
    expect(calls).toBe(3);
  });
});
