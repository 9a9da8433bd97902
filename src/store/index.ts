/** Blob storage: the interface and its embedded adapter. */
export {
  assertSha256Hex,
  BlobCorruptedError,
  BlobNotFoundError,
  type BlobStore,
  isSha256Hex,
} from "./blob-store.ts";
export { LocalBlobStore, type LocalBlobStoreOptions } from "./local-blob-store.ts";
