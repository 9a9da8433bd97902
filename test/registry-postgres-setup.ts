/**
 * A throwaway PostgreSQL database per test run, so suites can run against the real server
 * (as Kysely tests every dialect) without touching each other's data. The server is
 * expected at BALLAST_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/postgres;
 * when it cannot be reached, setup fails loudly instead of skipping, because a silently
 * skipped PostgreSQL suite is how dialect bugs reach production.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

/** The admin connection used to create and drop test databases. */
export const TEST_POSTGRES_URL =
  process.env.BALLAST_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestPostgresDatabase {
  /** Connection URL of the fresh database. */
  readonly url: string;
  readonly name: string;
  /** Drops the database, closing any connections still open to it. */
  drop(): Promise<void>;
}

/** The URL without its password, safe to print in a failure message. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: TEST_POSTGRES_URL,
    connectionTimeoutMillis: 5000,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is required for the registry tests but cannot be reached at ${redact(TEST_POSTGRES_URL)}: ${
        error instanceof Error ? error.message : String(error)
      }. Start PostgreSQL on 127.0.0.1:5432 or set BALLAST_TEST_POSTGRES_URL.`,
      { cause: error },
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates `<prefix>_<random>` on the test server and returns its URL. */
export async function createTestPostgresDatabase(
  prefix = "ballast_test",
): Promise<TestPostgresDatabase> {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`Bad database prefix ${prefix}`);
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await withAdmin((client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
