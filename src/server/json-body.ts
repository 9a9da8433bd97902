/**
 * JSON request bodies: Fastify's own parser (secure-json-parse, which refuses `__proto__` keys
 * and `constructor.prototype`), answering a body it cannot take with a 400 that says where: the
 * line and column of a syntax error, or the field that was refused. Fastify's parser drops the
 * cause, so on failure, and only then, the text is read again to find it. Every JSON route,
 * the predict route's own parser and the predict fast path use it.
 */
import type { FastifyInstance } from "fastify";
import { pointerSegment } from "../spec/spec-problems.ts";
import { type ApiError, badRequest } from "./errors.ts";

export type JsonBodyParser = (
  request: unknown,
  text: string,
  done: (error: Error | null, value?: unknown) => void,
) => void;

/** Fastify's JSON parser for `server`, with errors that name the line or field. */
export function jsonBodyParser(server: FastifyInstance): JsonBodyParser {
  const parse = server.getDefaultJsonParser("error", "error") as unknown as JsonBodyParser;
  // Fastify's default parser answers synchronously through its callback.
  return (request, text, done) =>
    parse(request, text, (error, value) => (error ? done(bodyError(text)) : done(null, value)));
}

/** Why `text` is not a body we take, as a 400 naming the place. */
export function bodyError(text: string): ApiError {
  if (text.length === 0) {
    return badRequest("invalid_json", "The body is empty; send a JSON value", [
      { path: "body", message: "is empty" },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    // V8 says where for most errors ("at position 12"); "end of JSON input" is past the end.
    const at = /position (\d+)/.exec(message);
    const position = at ? Number(at[1]) : /end of JSON input/.test(message) ? text.length : -1;
    const where = position < 0 ? "" : `${lineAndColumn(text, position)}: `;
    return badRequest("invalid_json", `The body is not valid JSON: ${where}${message}`, [
      { path: "body", message: `${where}${message}` },
    ]);
  }
  const path = forbiddenPath(value, "");
  return badRequest(
    "invalid_json",
    "The body holds a field that would change an object's prototype, which is not allowed",
    [{ path: path ?? "body", message: "is not allowed (__proto__, or constructor.prototype)" }],
  );
}

function lineAndColumn(text: string, position: number): string {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < position; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return `line ${line}, column ${position - start + 1}`;
}

/** The JSON Pointer of the first `__proto__` key or `constructor.prototype`, if any. */
function forbiddenPath(value: unknown, at: string): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, child] of Object.entries(value)) {
    const here = `${at}/${pointerSegment(key)}`;
    if (key === "__proto__") return here;
    if (
      key === "constructor" &&
      child !== null &&
      typeof child === "object" &&
      Object.hasOwn(child, "prototype")
    ) {
      return `${here}/prototype`;
    }
    const found = forbiddenPath(child, here);
    if (found !== undefined) return found;
  }
  return undefined;
}
