/**
 * Runs work atomically whether or not the caller is already inside a transaction. Kysely
 * refuses to nest `transaction()`, yet repository methods must be atomic on their own and
 * also compose inside `registry.transaction(...)`; this joins the outer transaction when
 * there is one and opens a new one otherwise.
 */
import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema.ts";

export function withTransaction<T>(
  db: Kysely<Database>,
  work: (trx: Kysely<Database> | Transaction<Database>) => Promise<T>,
): Promise<T> {
  if (db.isTransaction) return work(db);
  return db.transaction().execute(work);
}
