import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BlobCorruptedError, BlobNotFoundError, isSha256Hex } from "./blob-store.ts";
import { LocalBlobStore } from "./local-blob-store.ts";

function sha256Of(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

describe("LocalBlobStore", () => {
  let dir: string;
  let store: LocalBlobStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-blobs-"));
    store = new LocalBlobStore(dir);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("stores bytes under their sha256 and reads them back", async () => {
    const bytes = new TextEncoder().encode("hello, ballast");
    const sha = await store.put(bytes);
    expect(sha).toBe(sha256Of(bytes));
    expect(isSha256Hex(sha)).toBe(true);
    expect(store.path(sha)).toBe(join(dir, "sha256", sha.slice(0, 2), sha));
    expect(await readFile(store.path(sha))).toEqual(Buffer.from(bytes));
    expect(Buffer.from(await store.get(sha)).toString()).toBe("hello, ballast");
    expect(await store.has(sha)).toBe(true);
    expect(await store.has(sha256Of(new Uint8Array([1])))).toBe(false);
  });

  it("is idempotent and leaves no temp files behind", async () => {
    const bytes = randomBytes(1000);
    const first = await store.put(bytes);
    const second = await store.put(bytes);
    expect(second).toBe(first);
    const files = await listFiles(dir);
    expect(files).toEqual([store.path(first)]);
  });

  it("stores the empty blob", async () => {
    const sha = await store.put(new Uint8Array(0));
    expect(sha).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect((await store.get(sha)).length).toBe(0);
  });

  it("handles concurrent puts of the same content", async () => {
    const bytes = randomBytes(64 * 1024);
    const shas = await Promise.all(Array.from({ length: 8 }, () => store.put(bytes)));
    expect(new Set(shas).size).toBe(1);
    const [sha] = shas;
    expect(sha).toBe(sha256Of(bytes));
    expect(Buffer.from(await store.get(sha ?? "")).equals(bytes)).toBe(true);
    expect(await listFiles(join(dir, "tmp"))).toEqual([]);
  });

  it("streams a file in and reports its hash and size", async () => {
    const source = join(dir, "upload.bin");
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(source, bytes);
    const result = await store.putFile(source);
    expect(result).toEqual({ sha256: sha256Of(bytes), size: bytes.length });
    expect(Buffer.from(await store.get(result.sha256)).equals(bytes)).toBe(true);
    // A second upload of the same content is deduplicated and cleans up its temp file.
    const again = await store.putFile(source);
    expect(again).toEqual(result);
    expect(await listFiles(join(dir, "tmp"))).toEqual([]);
  });

  it("rejects a missing source file and leaves nothing behind", async () => {
    await expect(store.putFile(join(dir, "nope.csv"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(await listFiles(join(dir, "tmp"))).toEqual([]);
    expect(await listFiles(join(dir, "sha256"))).toEqual([]);
  });

  it.skipIf(process.platform === "win32")(
    "never exposes a half-written blob under its final name",
    async () => {
      const fifo = join(dir, "slow-upload");
      execFileSync("mkfifo", [fifo]);
      const pending = store.putFile(fifo);
      const writer = createWriteStream(fifo);
      const half = randomBytes(256 * 1024);
      await new Promise<void>((resolve) => writer.write(half, () => resolve()));
      // Wait until the store has consumed some data into its temp file.
      for (let i = 0; i < 100; i++) {
        const temps = await listFiles(join(dir, "tmp"));
        if (temps.length === 1 && temps[0] && (await stat(temps[0])).size > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await listFiles(join(dir, "tmp"))).toHaveLength(1);
      expect(await listFiles(join(dir, "sha256"))).toEqual([]);
      const rest = randomBytes(1024);
      await new Promise<void>((resolve) => writer.end(rest, () => resolve()));
      const result = await pending;
      const all = Buffer.concat([half, rest]);
      expect(result).toEqual({ sha256: sha256Of(all), size: all.length });
      expect(await listFiles(join(dir, "sha256"))).toEqual([store.path(result.sha256)]);
      expect(await listFiles(join(dir, "tmp"))).toEqual([]);
    },
  );

  it("reports missing and corrupted blobs with typed errors", async () => {
    const missing = sha256Of(new TextEncoder().encode("never stored"));
    await expect(store.get(missing)).rejects.toBeInstanceOf(BlobNotFoundError);

    const sha = await store.put(new TextEncoder().encode("original"));
    await writeFile(store.path(sha), "tampered");
    const error = await store.get(sha).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobCorruptedError);
    expect((error as BlobCorruptedError).actualSha256).toBe(
      sha256Of(new TextEncoder().encode("tampered")),
    );

    const trusting = new LocalBlobStore(dir, { verifyOnRead: false });
    expect(Buffer.from(await trusting.get(sha)).toString()).toBe("tampered");
  });

  it("rejects keys that are not sha256 hex, so no path can escape the store", async () => {
    for (const bad of ["../../etc/passwd", "ABC", "", `${"a".repeat(63)}g`, "A".repeat(64)]) {
      expect(() => store.path(bad)).toThrow(RangeError);
      await expect(store.get(bad)).rejects.toThrow(RangeError);
      await expect(store.has(bad)).rejects.toThrow(RangeError);
      await expect(store.delete(bad)).rejects.toThrow(RangeError);
    }
  });

  it("deletes blobs idempotently", async () => {
    const sha = await store.put(new TextEncoder().encode("short-lived"));
    await store.delete(sha);
    expect(await store.has(sha)).toBe(false);
    await expect(store.delete(sha)).resolves.toBeUndefined();
    await expect(store.get(sha)).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it("sweeps stale temp files but keeps fresh ones", async () => {
    await store.put(new TextEncoder().encode("creates the tmp dir"));
    const stale = join(dir, "tmp", "stale.part");
    const fresh = join(dir, "tmp", "fresh.part");
    await writeFile(stale, "x");
    await writeFile(fresh, "y");
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, old, old);
    expect(await store.cleanupTemp()).toBe(1);
    expect(await listFiles(join(dir, "tmp"))).toEqual([fresh]);
    expect(await new LocalBlobStore(join(dir, "absent")).cleanupTemp()).toBe(0);
  });
});
