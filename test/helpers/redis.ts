/**
 * The Redis the integration tests share (127.0.0.1:6379, started by `.ci/run`), and the
 * clean-up every suite that writes to it runs: each suite uses a key prefix of its own.
 */
import { openRedis } from "../../src/store/redis.ts";

export const TEST_REDIS_URL = "redis://127.0.0.1:6379";

/** Delete every key under `prefix` (a suite's own), leaving other runs' keys alone. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = openRedis({ url: TEST_REDIS_URL });
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
