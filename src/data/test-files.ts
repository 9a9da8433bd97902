import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { quoteLiteral } from "./duckdb-sql.ts";

/**
 * A temp folder for one test file's inputs: real files on disk, read by the real DuckDB.
 * Test-only helper (imported by *.test.ts, never by the stage itself).
 */
export class TestFiles {
  readonly dir = mkdtempSync(join(tmpdir(), "ballast-data-"));

  /** Writes `content` to `name` in the folder and returns its path. */
  write(name: string, content: string | Uint8Array): string {
    const path = join(this.dir, name);
    writeFileSync(path, content);
    return path;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Writes the result of `selectSql` with DuckDB's COPY (e.g. to make a Parquet file). */
  async copy(
    name: string,
    selectSql: string,
    format: "parquet" | "csv" = "parquet",
  ): Promise<string> {
    const path = this.path(name);
    const instance = await DuckDBInstance.create(":memory:");
    try {
      const connection = await instance.connect();
      try {
        await connection.run(`COPY (${selectSql}) TO ${quoteLiteral(path)} (FORMAT ${format})`);
      } finally {
        connection.closeSync();
      }
    } finally {
      instance.closeSync();
    }
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Lines joined with "\n" and a final newline: a text file as people write them. */
export function lines(...rows: string[]): string {
  return `${rows.join("\n")}\n`;
}
