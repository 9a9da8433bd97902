import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { findCsvProblem } from "./csv-scan.ts";
import { TestFiles } from "./test-files.ts";

const files = new TestFiles();
afterAll(() => files.remove());

describe("findCsvProblem", () => {
  it("finds nothing wrong in a well-formed file with quotes, CRLF and blank lines", async () => {
    const path = files.write(
      "ok.csv",
      'a,b,c\r\n1,"x, y",3\r\n\r\n2,"say ""hi""",4\r\n5,"two\nlines",6',
    );
    expect(await findCsvProblem(path, ",")).toBeUndefined();
  });

  it("reports the first ragged record with its physical line", async () => {
    const path = files.write("ragged.csv", 'a,b\n1,"multi\nline"\n2,3,4\n5\n');
    expect(await findCsvProblem(path, ",")).toEqual({
      kind: "ragged",
      line: 4,
      fields: 3,
      expected: 2,
    });
  });

  it("checks a last line without newline", async () => {
    const path = files.write("tail.csv", "a,b\n1,2\n3");
    expect(await findCsvProblem(path, ",")).toEqual({
      kind: "ragged",
      line: 3,
      fields: 1,
      expected: 2,
    });
  });

  it("uses the given delimiter", async () => {
    const path = files.write("tabs.tsv", "a\tb\n1,2\t3\n4\n");
    expect(await findCsvProblem(path, "\t")).toMatchObject({ kind: "ragged", line: 3 });
  });

  it("reports a quote that never closes, at the line it opens", async () => {
    const path = files.write("open.csv", 'a,b\n1,2\n3,"oops\n4,5\n');
    expect(await findCsvProblem(path, ",")).toEqual({ kind: "unterminated_quote", line: 3 });
  });

  it("reads gzip files", async () => {
    const path = files.write("r.csv.gz", gzipSync("a,b\n1,2\n3\n"));
    expect(await findCsvProblem(path, ",")).toMatchObject({ kind: "ragged", line: 3 });
  });
});
