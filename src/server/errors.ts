/**
 * One error shape for the whole API: `{ "error": { "code", "message", "details" } }`, with a
 * message a person can act on. Anything thrown that is not an ApiError is a bug and answers 500
 * without leaking internals; everything a caller can cause must become a 4xx here.
 */
export interface ErrorDetail {
  /** The field or location the problem is at, e.g. `/rows/3/tenure` or `line 12`. */
  readonly path?: string;
  readonly message: string;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const badRequest = (code: string, message: string, details: readonly ErrorDetail[] = []) =>
  new ApiError(400, code, message, details);
export const notFound = (what: string, name: string) =>
  new ApiError(404, "not_found", `${what} ${JSON.stringify(name)} does not exist`);
export const conflict = (message: string) => new ApiError(409, "conflict", message);
export const unprocessable = (
  code: string,
  message: string,
  details: readonly ErrorDetail[] = [],
) => new ApiError(422, code, message, details);

export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details: readonly ErrorDetail[];
  };
}

export function errorBody(
  code: string,
  message: string,
  details: readonly ErrorDetail[] = [],
): ErrorBody {
  return { error: { code, message, details } };
}
