/**
 * Sessions: `GET /v1/session` tells the Studio who its key is; `GET /v1/session/local` signs
 * in the person at the machine, on the embedded set-up only.
 *
 * The local sign-in hands out the admin key saved in the data dir, so every condition must
 * hold: the server listens on a loopback address, the caller connects from one, the registry
 * is the embedded SQLite file (a shared PostgreSQL means a shared, deployed server), the
 * `autoLogin` setting is on, and the request names a loopback host (`Host`, and `Origin` when
 * sent), which defeats DNS rebinding: a web page on another site cannot make the browser send
 * `Host: 127.0.0.1`. Anything else answers 404 `not_available`, as if the route did not exist.
 */
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { LocalSessionDto, SessionDto } from "../api-types.ts";
import { requireKey } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^\[|\]$/g, "");
  if (a === "::1") return true;
  const v4 = a.startsWith("::ffff:") ? a.slice(7) : a;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

/** A host name that can only mean this machine: localhost, *.localhost, or a loopback IP. */
export function isLoopbackHostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost") || isLoopbackAddress(h);
}

/** The host name of a `Host` header value (`name`, `name:port`, `[v6]:port`). */
function hostOfHeader(value: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (v6?.[1]) return v6[1];
  return value.replace(/:\d+$/, "");
}

/** Why the local sign-in is refused for this request, or undefined when it may go ahead. */
function refusal(ctx: ServerContext, request: FastifyRequest): string | undefined {
  if (!ctx.config.autoLogin) return "automatic sign-in is turned off (BALLAST_AUTO_LOGIN=0)";
  if (ctx.registry.dialect !== "sqlite") {
    return "the registry is PostgreSQL: sign in with an API key";
  }
  if (!isLoopbackHostName(ctx.config.host)) {
    return `the server listens on ${ctx.config.host}, not only on this machine: sign in with an API key`;
  }
  if (!isLoopbackAddress(request.socket.remoteAddress)) {
    return "the request does not come from this machine";
  }
  const host = request.headers.host;
  if (typeof host !== "string" || !isLoopbackHostName(hostOfHeader(host))) {
    return "the request is not addressed to a loopback host name";
  }
  const origin = request.headers.origin;
  if (typeof origin === "string") {
    let originHost: string;
    try {
      originHost = new URL(origin).hostname;
    } catch {
      return "the request comes from an unknown origin";
    }
    if (!isLoopbackHostName(hostOfHeader(originHost))) {
      return "the request comes from another site";
    }
  }
  return undefined;
}

export function sessionRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get(
      "/v1/session",
      {
        schema: {
          tags: ["session"],
          summary: "The caller's workspace and API key (any role)",
        },
      },
      async (request) => {
        const principal = requireKey(await ctx.authenticate(request.headers));
        const [workspace, key] = await Promise.all([
          ctx.registry.workspaces.get(principal.workspaceId),
          ctx.registry.apiKeys.getKey(principal.workspaceId, principal.keyId),
        ]);
        const body: SessionDto = {
          workspace: workspace.name,
          key: { id: key.id, name: key.name, role: key.role, prefix: key.prefix },
        };
        return body;
      },
    );

    app.get(
      "/v1/session/local",
      {
        schema: {
          tags: ["session"],
          summary: "Sign in the person at this machine: the local admin key",
          description:
            "Answers only on the embedded set-up (loopback server, SQLite registry, autoLogin on) to a request from this machine addressed to a loopback host name; otherwise 404 `not_available`.",
          security: [],
        },
      },
      async (request, reply) => {
        void reply.header("cache-control", "no-store");
        const why = refusal(ctx, request);
        const unavailable = (reason: string) =>
          new ApiError(404, "not_available", `Automatic sign-in is not available: ${reason}`);
        if (why) throw unavailable(why);
        let key: string;
        try {
          key = (await readFile(path.join(ctx.config.dataDir, "admin.key"), "utf8")).trim();
        } catch {
          throw unavailable("the data dir has no admin.key");
        }
        // A revoked or foreign key would only fail later, confusingly: check it now.
        const principal = await ctx.authenticate({ authorization: `Bearer ${key}` });
        if (principal?.role !== "admin") {
          throw unavailable("the saved admin key is no longer valid");
        }
        const body: LocalSessionDto = { key };
        return body;
      },
    );
  };
}
