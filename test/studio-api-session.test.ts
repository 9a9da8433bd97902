/**
 * Sessions over real HTTP: who a key is (`GET /v1/session`), and the local sign-in that hands
 * the admin key to the person at the machine only on the embedded set-up, never to another
 * machine, another site (DNS rebinding) or a shared PostgreSQL-backed server.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startTestServer, type TestServer } from "./helpers/server.ts";
import { createTestPostgresDatabase } from "./registry-postgres-setup.ts";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

function local(target: TestServer, headers: Record<string, string> = {}, remoteAddress?: string) {
  const host = new URL(target.url).host;
  return target.ballast.server.inject({
    method: "GET",
    url: "/v1/session/local",
    headers: { host, ...headers },
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

describe("GET /v1/session", () => {
  it("names the workspace and the caller's key, for any role", async () => {
    const admin = await api(server, server.adminKey)("GET", "/v1/session");
    expect(admin.status).toBe(200);
    expect(admin.json).toEqual({
      workspace: "default",
      key: {
        id: expect.stringMatching(/^key_/),
        name: "local admin",
        role: "admin",
        prefix: server.adminKey.slice(0, 13),
      },
    });
    const created = await api(server, server.adminKey)("POST", "/v1/keys", {
      role: "invoker",
      name: "website",
    });
    const invoker = await api(server, created.json.secret)("GET", "/v1/session");
    expect(invoker.status).toBe(200);
    expect(invoker.json.key).toMatchObject({ id: created.json.key.id, role: "invoker" });
  });

  it("answers 401 without a valid key", async () => {
    for (const key of [undefined, "blst_not-a-key"]) {
      const { status, json } = await api(server, key)("GET", "/v1/session");
      expect(status).toBe(401);
      expect(json.error.code).toBe("unauthorized");
    }
  });
});

describe("GET /v1/session/local", () => {
  it("gives the saved admin key to a browser on this machine, over real HTTP", async () => {
    const response = await fetch(new URL("/v1/session/local", server.url));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as { key: string };
    expect(body).toEqual({ key: server.adminKey });
    expect(readFileSync(path.join(server.dataDir, "admin.key"), "utf8").trim()).toBe(body.key);
    const session = await api(server, body.key)("GET", "/v1/session");
    expect(session.json.key.role).toBe("admin");
    // Also from a page served by this server (same origin) and named localhost.
    const port = new URL(server.url).port;
    for (const [host, origin] of [
      [`localhost:${port}`, `http://localhost:${port}`],
      [`127.0.0.1:${port}`, `http://127.0.0.1:${port}`],
      [`[::1]:${port}`, `http://[::1]:${port}`],
      [`studio.localhost:${port}`, `http://studio.localhost:${port}`],
    ] as const) {
      expect((await local(server, { host, origin })).statusCode).toBe(200);
    }
  });

  it("refuses other machines, other sites and rebinding host names, as not available", async () => {
    const port = new URL(server.url).port;
    const refused = [
      await local(server, {}, "10.1.2.3"),
      await local(server, {}, "192.168.0.20"),
      await local(server, {}, "::ffff:10.0.0.1"),
      await local(server, { host: `attacker.example:${port}` }),
      await local(server, { host: `127.0.0.1.attacker.example:${port}` }),
      await local(server, { origin: "https://attacker.example" }),
      await local(server, { origin: "null" }),
    ];
    for (const response of refused) {
      expect(response.statusCode).toBe(404);
      expect(response.json().error.code).toBe("not_available");
      expect(response.body).not.toContain(server.adminKey);
    }
  });

  it("refuses when the key was revoked", async () => {
    const other = await startTestServer();
    try {
      const call = api(other, other.adminKey);
      const session = await call("GET", "/v1/session");
      // Keep a second admin to revoke the first.
      const second = await call("POST", "/v1/keys", { role: "admin" });
      await api(other, second.json.secret)("DELETE", `/v1/keys/${session.json.key.id}`);
      const response = await local(other);
      expect(response.statusCode).toBe(404);
      expect(response.json().error.message).toMatch(/no longer valid/);
    } finally {
      await other.close();
    }
  });

  it("is not available with autoLogin off, on a non-loopback listener or on PostgreSQL", async () => {
    const off = await startTestServer({ autoLogin: false });
    const open = await startTestServer({ host: "0.0.0.0" });
    const database = await createTestPostgresDatabase("ballast_session");
    const shared = await startTestServer({ databaseUrl: database.url });
    try {
      for (const [target, reason] of [
        [off, /turned off/],
        [open, /listens on 0\.0\.0\.0/],
        [shared, /PostgreSQL/],
      ] as const) {
        // A real request from this machine, so only the server's set-up refuses it.
        const port = new URL(target.url).port;
        const response = await fetch(`http://127.0.0.1:${port}/v1/session/local`);
        expect(response.status).toBe(404);
        const body = (await response.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe("not_available");
        expect(body.error.message).toMatch(reason);
      }
    } finally {
      await off.close();
      await open.close();
      await shared.close();
      await database.drop();
    }
  });

  it("hands out the key only when every condition holds, whatever the headers and address", async () => {
    const port = new URL(server.url).port;
    const loopbackHosts = ["127.0.0.1", "localhost", "[::1]", "127.3.4.5", "app.localhost"];
    const otherHosts = ["example.com", "10.0.0.1", "localhost.example", "[::2]", "0.0.0.0"];
    const hostName = fc.oneof(
      fc.constantFrom(...loopbackHosts, ...otherHosts),
      fc.domain(),
      fc.ipV4(),
      fc.string({ maxLength: 20 }),
    );
    const address = fc.oneof(
      fc.constantFrom("127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.1", "::ffff:8.8.8.8"),
      fc.ipV4(),
    );
    await fc.assert(
      fc.asyncProperty(
        hostName,
        fc.option(
          fc.oneof(
            hostName.map((h) => `http://${h}:${port}`),
            fc.string(),
          ),
          {
            nil: undefined,
          },
        ),
        address,
        async (host, origin, remote) => {
          const headers: Record<string, string> = { host: `${host}:${port}` };
          if (origin !== undefined) headers.origin = origin;
          const response = await local(server, headers, remote);
          expect(response.statusCode === 200 || response.statusCode === 404).toBe(true);
          const loopback = (name: string) =>
            /^(localhost|.+\.localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(name);
          let originOk = true;
          if (origin !== undefined) {
            try {
              originOk = loopback(new URL(origin).hostname);
            } catch {
              originOk = false;
            }
          }
          const remoteOk = /^(::ffff:)?127\./.test(remote) || remote === "::1";
          const allowed = loopback(host) && originOk && remoteOk;
          expect(response.statusCode).toBe(allowed ? 200 : 404);
          if (allowed) expect(response.json().key).toBe(server.adminKey);
          else expect(response.body).not.toContain(server.adminKey);
        },
      ),
      { numRuns: 300, seed: 4 },
    );
  });
});
