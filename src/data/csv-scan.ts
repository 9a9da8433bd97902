import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

/** The first structural problem in a delimited text file, with the line a person can open. */
export type CsvProblem =
  | {
      readonly kind: "ragged";
      readonly line: number;
      readonly fields: number;
      readonly expected: number;
    }
  | { readonly kind: "unterminated_quote"; readonly line: number };

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Walks a CSV/TSV file byte by byte (RFC 4180 quoting, `""` as an escaped quote) and reports
 * the first record whose field count differs from the header's, or a quote never closed.
 *
 * Why it exists: when a bad row falls inside DuckDB's sniffing sample, DuckDB only says it
 * "could not detect the dialect", without a line. This scan runs only after such a failure,
 * so the person still learns which line to fix. Blank lines are skipped, as DuckDB does.
 */
export async function findCsvProblem(
  path: string,
  delimiter: string,
): Promise<CsvProblem | undefined> {
  const delim = delimiter.charCodeAt(0);
  const raw: Readable = createReadStream(path, { highWaterMark: 1 << 20 });
  const stream: Readable = path.toLowerCase().endsWith(".gz") ? raw.pipe(createGunzip()) : raw;

  let line = 1;
  let recordLine = 1;
  let quoteLine = 1;
  let fields = 1;
  let recordBytes = 0;
  let expected = -1;
  let inQuotes = false;

  /** Returns a problem when the record just finished is ragged. */
  const endRecord = (): CsvProblem | undefined => {
    const blank = recordBytes === 0;
    const count = fields;
    fields = 1;
    recordBytes = 0;
    if (blank) return undefined;
    if (expected < 0) {
      expected = count;
      return undefined;
    }
    if (count !== expected) return { kind: "ragged", line: recordLine, fields: count, expected };
    return undefined;
  };

  try {
    for await (const piece of stream) {
      const bytes = piece as Buffer;
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i] as number;
        if (inQuotes) {
          if (b === QUOTE) inQuotes = false;
          else if (b === LF) line++;
          continue;
        }
        if (b === LF) {
          const problem = endRecord();
          if (problem) return problem;
          line++;
          recordLine = line;
        } else if (b === CR) {
          // Part of a CRLF line ending: not content.
        } else if (b === delim) {
          fields++;
          recordBytes++;
        } else if (b === QUOTE) {
          inQuotes = true;
          quoteLine = line;
          recordBytes++;
        } else {
          recordBytes++;
        }
      }
    }
  } finally {
    stream.destroy();
    raw.destroy();
  }
  if (inQuotes) return { kind: "unterminated_quote", line: quoteLine };
  return endRecord();
}
