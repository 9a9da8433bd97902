/**
 * Why an import failed, in words a person who never wrote code can act on. The `code` lets the
 * CLI, the API and the Studio react (e.g. highlight the line), the message is what they show.
 */
export type IngestErrorCode =
  | "empty_file"
  | "parse_error"
  | "unsupported_format"
  | "no_columns"
  | "file_not_found"
  | "too_many_rows"
  /** A type override named a column the table does not have. */
  | "unknown_column"
  /** A type override asked for a conversion some value cannot make (e.g. "abc" to a number). */
  | "conversion_failed";

export interface IngestErrorDetails {
  /** 1-based line of the file the problem is on, when the reader could tell. */
  readonly line?: number;
  /** The column the problem is in, when it is about one column. */
  readonly column?: string;
  readonly cause?: unknown;
}

/**
 * The one error type the data stage throws for bad input. Anything else escaping `ingestFile`
 * is a bug in Ballast, not in the person's file.
 */
export class IngestError extends Error {
  override readonly name = "IngestError";
  readonly code: IngestErrorCode;
  readonly line?: number;
  readonly column?: string;

  constructor(code: IngestErrorCode, message: string, details: IngestErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.line !== undefined) this.line = details.line;
    if (details.column !== undefined) this.column = details.column;
  }
}

export function isIngestError(error: unknown): error is IngestError {
  return error instanceof IngestError;
}
