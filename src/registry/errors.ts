/**
 * Typed failures of the registry. Repositories translate driver errors (SQLite
 * `SQLITE_CONSTRAINT_*`, PostgreSQL SQLSTATE `23xxx`) into these, so callers never depend on
 * which database is behind them and the server maps them to HTTP statuses in one place:
 * {@link NotFoundError} → 404, {@link ConflictError} → 409, {@link ValidationError} → 400.
 */

/** Base class, so a caller can tell registry outcomes apart from bugs and outages. */
export class RegistryError extends Error {
  override readonly name: string = "RegistryError";
}

/** The thing asked for (or a thing it refers to) does not exist in this workspace. */
export class NotFoundError extends RegistryError {
  override readonly name = "NotFoundError";
  readonly code = "NOT_FOUND";
  /** What kind of thing: "workspace", "dataset", "model version", ... */
  readonly entity: string;
  /** The id, name or reference that was looked up. */
  readonly key: string;
  constructor(entity: string, key: string, message?: string) {
    super(message ?? `${capitalize(entity)} ${JSON.stringify(key)} not found`);
    this.entity = entity;
    this.key = key;
  }
}

/**
 * The write would break a uniqueness rule (a name already taken) or the current state does
 * not allow it (a finished job, a model still used by an app).
 */
export class ConflictError extends RegistryError {
  override readonly name = "ConflictError";
  readonly code = "CONFLICT";
  readonly entity: string;
  readonly key: string;
  constructor(entity: string, key: string, message?: string) {
    super(message ?? `${capitalize(entity)} ${JSON.stringify(key)} already exists`);
    this.entity = entity;
    this.key = key;
  }
}

/** An input the registry refuses before touching the database (a malformed name, say). */
export class ValidationError extends RegistryError {
  override readonly name = "ValidationError";
  readonly code = "VALIDATION";
  /** The offending input field, e.g. "name". */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What the driver reported, reduced to the cases the repositories translate. */
export type ConstraintViolation = "unique" | "foreign-key" | "check" | "not-null";

/**
 * Classifies a driver error as a constraint violation, for either dialect, or returns
 * undefined for anything else (which callers rethrow unchanged).
 */
export function constraintViolation(error: unknown): ConstraintViolation | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  switch (error.code) {
    case "SQLITE_CONSTRAINT_UNIQUE":
    case "SQLITE_CONSTRAINT_PRIMARYKEY":
    case "23505":
      return "unique";
    case "SQLITE_CONSTRAINT_FOREIGNKEY":
    case "23503":
      return "foreign-key";
    case "SQLITE_CONSTRAINT_CHECK":
    case "23514":
      return "check";
    case "SQLITE_CONSTRAINT_NOTNULL":
    case "23502":
      return "not-null";
    default:
      return undefined;
  }
}

/**
 * Rewrites a driver error into a registry error when `translations` has an entry for its
 * kind of violation; otherwise returns the error untouched. Use as
 * `catch (e) { throw translateError(e, { unique: () => new ConflictError(...) }) }`.
 */
export function translateError(
  error: unknown,
  translations: Partial<Record<ConstraintViolation, () => RegistryError>>,
): unknown {
  const violation = constraintViolation(error);
  const translate = violation ? translations[violation] : undefined;
  if (!translate) return error;
  const translated = translate();
  translated.cause = error;
  return translated;
}
