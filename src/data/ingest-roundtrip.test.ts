import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { cellValue, getColumn } from "./frame.ts";
import { ingestFile } from "./ingest.ts";
import { TestFiles } from "./test-files.ts";

const files = new TestFiles();
afterAll(() => files.remove());

type Cell = number | string | null;
interface Table {
  readonly kinds: readonly ("number" | "string")[];
  readonly rows: readonly (readonly Cell[])[];
  readonly crlf: boolean;
  readonly finalNewline: boolean;
  readonly missingSpelling: readonly string[];
}

/** Characters that stress CSV quoting: separators, quotes, line breaks, non-ASCII. */
const TRICKY = [..."ab Z9,;\"'\n\r\t.-é日", "🙂"];

/**
 * Strings start with a letter: a column of bare "12" or "true" strings is a number or boolean
 * column by design, and that inference is tested elsewhere; here the property is quoting.
 */
const stringCell = fc
  .tuple(
    fc.constantFrom("s", "K", "é"),
    fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 12 }),
  )
  .map(([head, tail]) => head + tail);

const numberCell = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const table: fc.Arbitrary<Table> = fc
  .array(fc.constantFrom<"number" | "string">("number", "string"), { minLength: 1, maxLength: 4 })
  .chain((kinds) =>
    fc.record({
      kinds: fc.constant(kinds),
      rows: fc.array(
        fc.tuple(
          ...kinds.map((kind) =>
            fc.option<Cell>(kind === "number" ? numberCell : stringCell, { freq: 4, nil: null }),
          ),
        ),
        { minLength: 1, maxLength: 15 },
      ),
      crlf: fc.boolean(),
      finalNewline: fc.boolean(),
      missingSpelling: fc.array(fc.constantFrom("", "NA", "NULL"), {
        minLength: 15 * 4,
        maxLength: 15 * 4,
      }),
    }),
  );

function quote(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** RFC 4180 CSV: strings always quoted, numbers bare, missing as "", NA or NULL. */
function toCsv(t: Table): string {
  const header = t.kinds.map((_, i) => `c${i}`).join(",");
  const body = t.rows.map((row, r) =>
    row
      .map((cell, c) => {
        if (cell === null) {
          const spelling = t.missingSpelling[r * t.kinds.length + c] ?? "";
          // A row that is one empty field would be a blank line, which readers skip.
          return spelling === "" && row.length === 1 ? "NA" : spelling;
        }
        return typeof cell === "number" ? String(cell) : quote(cell);
      })
      .join(","),
  );
  const newline = t.crlf ? "\r\n" : "\n";
  return [header, ...body].join(newline) + (t.finalNewline ? newline : "");
}

describe("CSV round trip (property)", () => {
  it("every cell comes back: numbers equal, strings equal, missing stays missing", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(table, async (t) => {
        const path = files.write(`table-${run++}.csv`, toCsv(t));
        const { frame } = await ingestFile(path);
        expect(frame.rowCount).toBe(t.rows.length);
        expect(frame.columns.map((c) => c.name)).toEqual(t.kinds.map((_, i) => `c${i}`));
        t.kinds.forEach((_, c) => {
          const column = getColumn(frame, `c${c}`);
          if (!column) throw new Error(`c${c} missing`);
          const actual = t.rows.map((_, r) => cellValue(column, r));
          const expected = t.rows.map((row) => {
            const cell = row[c] ?? null;
            // -0 is written "0"; both mean zero.
            return typeof cell === "number" && cell === 0 ? 0 : cell;
          });
          expect(actual).toEqual(expected);
        });
      }),
      { numRuns: 50 },
    );
  });
});
