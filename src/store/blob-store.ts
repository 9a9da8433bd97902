/**
 * Where datasets and model artifacts live. The registry keeps only their sha256; the bytes
 * sit behind this interface so the embedded default (a local folder) and a scale-out
 * adapter (an S3-compatible bucket) are interchangeable, as Kysely swaps dialects.
 *
 * Blobs are content-addressed: the key IS the sha256 of the bytes, so writes are
 * idempotent, identical uploads are stored once, and a reader can verify what it got.
 */
export interface BlobStore {
  /** Stores bytes and returns their sha256 (lowercase hex). Storing the same bytes twice is a no-op. */
  put(bytes: Uint8Array): Promise<string>;
  /**
   * Streams a file into the store without holding it in memory (uploads can be gigabytes),
   * returning its sha256 and size in bytes.
   */
  putFile(path: string): Promise<{ sha256: string; size: number }>;
  /** The bytes of a blob; rejects with {@link BlobNotFoundError} when it is absent. */
  get(sha256: string): Promise<Uint8Array>;
  /**
   * A local filesystem path to the blob, for adapters that have one (DuckDB and ONNX read
   * files directly, which avoids a copy). Remote adapters leave it out.
   */
  path?(sha256: string): string;
  has(sha256: string): Promise<boolean>;
  /** Removes a blob; deleting an absent blob is not an error (deletes are retried). */
  delete(sha256: string): Promise<void>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True for a well-formed blob key: 64 lowercase hex characters. */
export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/**
 * Rejects anything that is not a sha256 key before it reaches a path or an object key, so
 * a crafted id such as `../../etc/passwd` can never address a file outside the store.
 */
export function assertSha256Hex(value: string): void {
  if (!SHA256_HEX.test(value)) {
    throw new RangeError(
      `Invalid blob key ${JSON.stringify(value)}: expected 64 lowercase hex characters`,
    );
  }
}

/** A blob the registry points at is missing: the store and the registry disagree. */
export class BlobNotFoundError extends Error {
  override readonly name = "BlobNotFoundError";
  readonly sha256: string;
  constructor(sha256: string) {
    super(`Blob ${sha256} not found`);
    this.sha256 = sha256;
  }
}

/** The bytes read back do not hash to their key: the blob was damaged on disk or in transit. */
export class BlobCorruptedError extends Error {
  override readonly name = "BlobCorruptedError";
  readonly sha256: string;
  readonly actualSha256: string;
  constructor(sha256: string, actualSha256: string) {
    super(`Blob ${sha256} is corrupted (its content hashes to ${actualSha256})`);
    this.sha256 = sha256;
    this.actualSha256 = actualSha256;
  }
}
