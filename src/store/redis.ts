/**
 * One way to open Redis for everything that shares state across replicas (rate limits,
 * idempotency keys, sessions, the BullMQ webhook queue). Every key a Ballast replica writes
 * starts with the configured prefix, so several deployments (or test runs) can share a server.
 */
import { createHash } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";

export interface RedisConnectionOptions {
  /** redis://[user:password@]host:port[/db] */
  readonly url: string;
  /** BullMQ's blocking connections need `maxRetriesPerRequest: null`; plain commands fail fast. */
  readonly forBlocking?: boolean;
}

/**
 * A connected client. Commands fail after a short time instead of queueing forever while
 * Redis is away, so a request that needs Redis answers an error instead of hanging.
 */
export function openRedis(options: RedisConnectionOptions): Redis {
  const settings: RedisOptions = options.forBlocking
    ? { maxRetriesPerRequest: null, enableReadyCheck: false }
    : { maxRetriesPerRequest: 2, connectTimeout: 5000, enableOfflineQueue: true };
  return new Redis(options.url, settings);
}

/** Resolves when Redis answers PING; rejects with a message naming the URL otherwise. */
export async function checkRedis(client: Redis, url: string): Promise<void> {
  try {
    await client.ping();
  } catch (error) {
    throw new Error(`Redis at ${url} is unreachable: ${(error as Error).message}`);
  }
}

/**
 * A Lua script, the way to make a read-check-write on Redis atomic without WATCH (which is per
 * connection, so it breaks when concurrent requests share one client). Runs by EVALSHA and
 * falls back to EVAL once when the server does not know it yet (fresh or restarted Redis).
 */
export class RedisScript {
  readonly sha1: string;

  constructor(readonly source: string) {
    this.sha1 = createHash("sha1").update(source).digest("hex");
  }

  async run(
    client: Redis,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha1, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
      return await client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
