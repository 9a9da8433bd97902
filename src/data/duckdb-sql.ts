import type { DuckDBConnection, DuckDBDataChunk } from "@duckdb/node-api";

/** A DuckDB identifier in double quotes, so any column name a file brings is safe in SQL. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A DuckDB string literal in single quotes (paths, header names, null spellings). */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Streams a query chunk by chunk (about 2,048 rows each), so reading a large table never
 * materialises it as JS objects.
 */
export async function forEachChunk(
  connection: DuckDBConnection,
  sql: string,
  visit: (chunk: DuckDBDataChunk) => void,
): Promise<void> {
  const result = await connection.stream(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) return;
    visit(chunk);
  }
}

/** All rows of a small query (metadata, aggregates) as plain rows. */
export async function queryRows(
  connection: DuckDBConnection,
  sql: string,
): Promise<readonly (readonly unknown[])[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRows();
}

/** DuckDB returns counts as bigint and averages as number; inference wants plain numbers. */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return Number.NaN;
}

/** The text of whatever a DuckDB call threw. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
