/**
 * The predict fast path: `POST /v1/apps/{app}/predict` answered from Node's HTTP server itself,
 * before Fastify routes the request. It runs the same steps as the Fastify route
 * (routes/predict.ts), in the same order, with the same functions: admission (key, app,
 * bulkhead, rate limits) before the body is read, Fastify's own JSON parser, the same checks,
 * the same pipeline, error bodies and observers. What it leaves out is Fastify's per-request
 * machinery (routing, request and reply objects, hook runners, an async resource per body,
 * reply serialization), which cost more CPU per prediction than every policy together.
 *
 * It takes only requests it answers exactly as the route would, and decides before reading
 * anything; the rest go to Fastify unchanged:
 * - anything but POST to a valid app name's production path with no query string;
 * - bodies whose type is not exactly `application/json` (or with `; charset=utf-8`), have no
 *   Content-Length or are larger than the body limit (Fastify answers 413), or are chunked;
 * - requests with an `Idempotency-Key` (the route stores and replays their answers);
 * - a key or app not yet in the server's caches, or rate limits kept in Redis (admission would
 *   have to wait: the route does that);
 * - while tracing is on (the route records the request's span) or the server is closing.
 *
 * Logging matches Fastify's: "incoming request" and "request completed" at info, the request's
 * logger bound to its id and trace id, 5xx errors logged with their cause.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorCodes, type FastifyBaseLogger } from "fastify";
import type { Bindings, ChildLoggerOptions } from "pino";
import { answerError } from "../error-response.ts";
import type { JsonBodyParser } from "../json-body.ts";
import { requestIdOf } from "../request-trace.ts";
import {
  type Admitted,
  admitNow,
  type HeaderSink,
  type PredictRequest,
  type PredictRouteDeps,
} from "./admission.ts";
import { answer, observeAnswer, preparePredict } from "./answer.ts";

/** Fastify's request logger factory, as request-trace.ts makes it. */
type ChildLoggerFactory = (
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
  raw: IncomingMessage,
) => FastifyBaseLogger;

/** The server's logger: pino's, which can say whether a level is on. */
export type LevelLogger = FastifyBaseLogger & { isLevelEnabled(level: string): boolean };

/** The production predict path, with the app names specs allow (APP_NAME_PATTERN). */
const PREDICT_PATH = /^\/v1\/apps\/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\/predict$/;
const JSON_UTF8 = "application/json; charset=utf-8";
/** The content types the fast path takes, as sent (any other spelling goes to Fastify). */
const JSON_TYPES = new Set(["application/json", JSON_UTF8]);
const CONTENT_LENGTH = /^\d{1,15}$/;

export interface FastPathOptions {
  readonly deps: PredictRouteDeps;
  /** Fastify's `bodyLimit`: larger bodies are left to it (413). */
  readonly bodyLimit: number;
  /** The server's logger (Fastify's, known once Fastify is made). */
  readonly logger: () => LevelLogger;
  /** The request logger Fastify would make (request-trace.ts: trace id, masked request id). */
  readonly childLogger: ChildLoggerFactory;
  /** The server's JSON body parser (../json-body.ts), so bodies parse and fail as on the route. */
  readonly jsonParser: () => JsonBodyParser;
  /** False while the fast path must stand aside: tracing on, or the server closing. */
  readonly open: () => boolean;
}

/** The `RateLimit-*` headers admission sets, kept until the answer is written. */
class PendingHeaders implements HeaderSink {
  values: Record<string, string> | undefined;
  headers(values: Record<string, string>): this {
    this.values = this.values ? Object.assign(this.values, values) : values;
    return this;
  }
}

/** One request on the fast path: what the shared data-plane functions read of a request. */
class FastRequest implements PredictRequest {
  readonly params: { readonly app: string };
  readonly query = {};
  body: unknown;
  admitted: Admitted | undefined = undefined;
  #log: FastifyBaseLogger | undefined;

  constructor(
    readonly id: string,
    readonly raw: IncomingMessage,
    app: string,
    private readonly makeLog: (request: FastRequest) => FastifyBaseLogger,
  ) {
    this.params = { app };
  }

  get headers() {
    return this.raw.headers;
  }

  get log(): FastifyBaseLogger {
    this.#log ??= this.makeLog(this);
    return this.#log;
  }
}

export interface PredictFastPath {
  /**
   * The request listener's first look: answers the request and returns true, or returns false
   * having touched nothing, for Fastify to handle.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Requests answered here since the server started (the rest went to Fastify). */
  readonly answered: number;
}

export function predictFastPath(options: FastPathOptions): PredictFastPath {
  const { deps, bodyLimit } = options;
  const makeLog = (request: FastRequest) =>
    options.childLogger(options.logger(), { reqId: request.id }, {}, request.raw);
  let answered = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "POST") return false;
    const url = req.url;
    if (url === undefined) return false;
    const path = PREDICT_PATH.exec(url);
    if (!path) return false;
    const headers = req.headers;
    const type = headers["content-type"];
    if (type === undefined || !JSON_TYPES.has(type)) return false;
    const length = headers["content-length"];
    if (length === undefined || !CONTENT_LENGTH.test(length) || Number(length) > bodyLimit) {
      return false;
    }
    if (headers["transfer-encoding"] !== undefined) return false;
    if (headers["idempotency-key"] !== undefined) return false;
    if (!options.open()) return false;

    const started = performance.now();
    const request = new FastRequest(requestIdOf(headers), req, path[1] as string, makeLog);
    const pending = new PendingHeaders();
    let refused: unknown;
    try {
      // False: admission must wait (nothing was spent); the Fastify route does it all.
      if (!admitNow(deps, "production", request, pending)) return false;
    } catch (error) {
      refused = error;
    }
    answered++;
    if (options.logger().isLevelEnabled("info")) {
      request.log.info({ req: logView(request) }, "incoming request");
    }
    if (refused !== undefined) {
      // Refused before the body (429, 503): answered here, as the route's onRequest would.
      respondError(request, res, pending, refused, started);
      return true;
    }
    readBody(req, Number(length), bodyLimit, options.jsonParser(), (error, body, text) => {
      if (error) {
        respondError(request, res, pending, error, started, true);
        return;
      }
      request.body = body;
      // Kept for the prediction log, as the route's parser keeps it (routes/predict.ts).
      if (request.admitted) request.admitted.bodyText = text;
      let result: ReturnType<typeof answer>;
      try {
        const { published, batch, explain, sessionId } = preparePredict(deps, request);
        result = answer(
          deps,
          request,
          published,
          body as Record<string, unknown>,
          batch,
          explain,
          sessionId,
        );
      } catch (thrown) {
        respondError(request, res, pending, thrown, started);
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (dto) => respond(request, res, pending, 200, JSON.stringify(dto), started),
          (thrown: unknown) => respondError(request, res, pending, thrown, started),
        );
      } else respond(request, res, pending, 200, JSON.stringify(result), started);
    });
    return true;
  };
  return {
    handle,
    get answered() {
      return answered;
    },
  };

  /** Write the answer, then tell the observers and log it, as the route's onResponse does. */
  function respond(
    request: FastRequest,
    res: ServerResponse,
    pending: PendingHeaders,
    status: number,
    payload: string,
    started: number,
    extra?: Record<string, string>,
  ): void {
    // Admission's header object was made for this request alone: the answer's headers join it.
    const out: Record<string, string | number> = pending.values ?? {};
    if (extra) Object.assign(out, extra);
    out["x-request-id"] = request.id;
    out["content-type"] = JSON_UTF8;
    out["content-length"] = Buffer.byteLength(payload);
    res.writeHead(status, out);
    res.end(payload);
    const ms = performance.now() - started;
    observeAnswer(deps, request, status, ms);
    if (options.logger().isLevelEnabled("info")) {
      request.log.info({ res: { statusCode: status }, responseTime: ms }, "request completed");
    }
  }

  /** Anything thrown, as the server's error handler answers it (only bugs are 500s). */
  function respondError(
    request: FastRequest,
    res: ServerResponse,
    pending: PendingHeaders,
    error: unknown,
    started: number,
    bodyError = false,
  ): void {
    const { status, body, headers } = answerError(error, request.log);
    // Fastify closes the connection after a body it could not read: the client may send more.
    if (bodyError) headers.connection = "close";
    respond(request, res, pending, status, JSON.stringify(body), started, headers);
  }
}

/** What the log's request serializer (logging.ts) reads of a request. */
function logView(request: FastRequest) {
  const raw = request.raw;
  return {
    method: raw.method,
    url: raw.url,
    headers: raw.headers,
    host: raw.headers.host,
    ip: raw.socket.remoteAddress,
    socket: raw.socket,
  };
}

/**
 * The body, read and parsed as Fastify's content-type parser does: at most `limit` bytes,
 * exactly Content-Length of them, through Fastify's JSON parser; errors carry their 4xx status.
 */
function readBody(
  req: IncomingMessage,
  expected: number,
  limit: number,
  parse: JsonBodyParser,
  done: (error: Error | null, body?: unknown, text?: string) => void,
): void {
  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) {
      detach();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (error?: Error & { statusCode?: number }) => {
    detach();
    if (error) {
      if (!(typeof error.statusCode === "number" && error.statusCode >= 400))
        error.statusCode = 400;
      done(error);
      return;
    }
    if (received !== expected) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    const text =
      chunks.length === 1
        ? (chunks[0] as Buffer).toString("utf8")
        : Buffer.concat(chunks).toString("utf8");
    // The parser answers synchronously through its callback.
    parse(req, text, (parseError, value) => done(parseError, value, text));
  };
  const detach = () => {
    req.removeListener("data", onData);
    req.removeListener("end", onEnd);
    req.removeListener("error", onEnd);
  };
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onEnd);
}
