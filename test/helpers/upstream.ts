/**
 * A real HTTP server on a loopback port standing in for something outside Ballast that an app's
 * http step calls (an external model, a rules service). Tests switch how it behaves (answer,
 * be slow, hang, fail) and read how many calls it received, to see what the runtime's
 * deadlines, breakers, retries and idempotency did.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export type UpstreamMode =
  | { readonly kind: "ok"; readonly prediction?: string | number }
  | { readonly kind: "slow"; readonly delayMs: number; readonly prediction?: string | number }
  | { readonly kind: "hang" }
  | { readonly kind: "error"; readonly status?: number }
  /** Every `every`-th call fails with a 500 (every: 5 fails 20% of calls, deterministically). */
  | { readonly kind: "flaky"; readonly every: number; readonly prediction?: string | number };

export interface Upstream {
  readonly url: string;
  /** Requests received since the start (or the last reset). */
  readonly calls: number;
  /** The headers of every request received since the start (or the last reset). */
  readonly headers: readonly IncomingHttpHeaders[];
  mode: UpstreamMode;
  reset(): void;
  close(): Promise<void>;
}

export async function startUpstream(initial: UpstreamMode = { kind: "ok" }): Promise<Upstream> {
  let calls = 0;
  const headers: IncomingHttpHeaders[] = [];
  const hanging = new Set<ServerResponse>();
  const state = { mode: initial };
  const answer = (res: ServerResponse, prediction: string | number | undefined, input: unknown) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ prediction: prediction ?? "upstream", echo: input }));
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    calls++;
    headers.push(req.headers);
    let raw = "";
    req.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    req.on("end", () => {
      const mode = state.mode;
      const input = raw ? (JSON.parse(raw) as unknown) : undefined;
      if (mode.kind === "ok") answer(res, mode.prediction, input);
      else if (mode.kind === "slow") {
        const timer = setTimeout(() => answer(res, mode.prediction, input), mode.delayMs);
        res.on("close", () => clearTimeout(timer));
      } else if (mode.kind === "hang") hanging.add(res);
      else if (mode.kind === "flaky" && calls % mode.every !== 0) {
        answer(res, mode.prediction, input);
      } else {
        res.writeHead(mode.kind === "error" ? (mode.status ?? 500) : 500, {
          "content-type": "application/json",
        });
        res.end(JSON.stringify({ error: "upstream failure" }));
      }
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/score`,
    get calls() {
      return calls;
    },
    headers,
    get mode() {
      return state.mode;
    },
    set mode(m: UpstreamMode) {
      state.mode = m;
    },
    reset() {
      calls = 0;
      headers.length = 0;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
