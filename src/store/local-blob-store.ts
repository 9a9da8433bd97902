/**
 * The embedded {@link BlobStore}: a folder on the local disk. It is the default for a single
 * process (`npm start`) and for tests; replicas that share storage use a bucket adapter.
 *
 * Layout: `<dir>/sha256/ab/abcdef…` (a two-character fan-out keeps directories small) and
 * `<dir>/tmp/` for writes in progress. Every write goes to a temp file in the same
 * filesystem, is flushed, then renamed onto its final name: rename is atomic, so a crash
 * leaves at worst an orphaned temp file, never a half-written blob under a real key.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import {
  assertSha256Hex,
  BlobCorruptedError,
  BlobNotFoundError,
  type BlobStore,
} from "./blob-store.ts";

export interface LocalBlobStoreOptions {
  /**
   * Re-hash blobs on {@link LocalBlobStore.get} and reject damaged ones (default true). A
   * model loaded from a flipped bit would serve wrong answers silently; hashing costs about a
   * millisecond per megabyte, paid once when an artifact is loaded.
   */
  readonly verifyOnRead?: boolean;
}

export class LocalBlobStore implements BlobStore {
  readonly dir: string;
  readonly #verifyOnRead: boolean;

  constructor(dir: string, options: LocalBlobStoreOptions = {}) {
    this.dir = dir;
    this.#verifyOnRead = options.verifyOnRead ?? true;
  }

  path(sha256: string): string {
    assertSha256Hex(sha256);
    return join(this.dir, "sha256", sha256.slice(0, 2), sha256);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (await this.has(sha256)) return sha256;
    const temp = await this.#tempPath();
    try {
      const handle = await open(temp, "wx");
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.#commit(temp, sha256);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    return sha256;
  }

  async putFile(path: string): Promise<{ sha256: string; size: number }> {
    const temp = await this.#tempPath();
    const hash = createHash("sha256");
    let size = 0;
    try {
      await pipeline(
        createReadStream(path),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: "wx", flush: true }),
      );
      const sha256 = hash.digest("hex");
      if (await this.has(sha256)) {
        await unlink(temp);
      } else {
        await this.#commit(temp, sha256);
      }
      return { sha256, size };
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  async get(sha256: string): Promise<Uint8Array> {
    const path = this.path(sha256);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if (isErrnoCode(error, "ENOENT")) throw new BlobNotFoundError(sha256);
      throw error;
    }
    if (this.#verifyOnRead) {
      const actual = createHash("sha256").update(bytes).digest("hex");
      if (actual !== sha256) throw new BlobCorruptedError(sha256, actual);
    }
    return bytes;
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.path(sha256))).isFile();
    } catch (error) {
      if (isErrnoCode(error, "ENOENT")) return false;
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true });
  }

  /**
   * Removes temp files left by writes that crashed midway. Only files older than
   * `olderThanMs` go, so writes in progress in other processes are left alone. Returns how
   * many were removed; call it at startup.
   */
  async cleanupTemp(olderThanMs = 60 * 60 * 1000): Promise<number> {
    const tempDir = join(this.dir, "tmp");
    let names: string[];
    try {
      names = await readdir(tempDir);
    } catch (error) {
      if (isErrnoCode(error, "ENOENT")) return 0;
      throw error;
    }
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of names) {
      const file = join(tempDir, name);
      try {
        if ((await stat(file)).mtimeMs < cutoff) {
          await unlink(file);
          removed++;
        }
      } catch (error) {
        if (!isErrnoCode(error, "ENOENT")) throw error;
      }
    }
    return removed;
  }

  async #tempPath(): Promise<string> {
    const tempDir = join(this.dir, "tmp");
    await mkdir(tempDir, { recursive: true });
    return join(tempDir, `${randomBytes(12).toString("hex")}.part`);
  }

  /** Moves a flushed temp file onto its content address and makes the rename durable. */
  async #commit(temp: string, sha256: string): Promise<void> {
    const final = this.path(sha256);
    const fanOut = join(this.dir, "sha256", sha256.slice(0, 2));
    await mkdir(fanOut, { recursive: true });
    // A concurrent writer of the same content may win the race; rename replaces its file
    // with identical bytes, so either way the final name holds a complete blob.
    await rename(temp, final);
    await syncDirectory(fanOut);
  }
}

/** fsync a directory so a rename survives power loss; not supported everywhere, so best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms (Windows) cannot open or fsync directories; the data itself is flushed.
  }
}

function isErrnoCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === code;
}
