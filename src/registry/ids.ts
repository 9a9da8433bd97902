/**
 * Record ids: a short type prefix plus 20 random base32 characters (100 bits), e.g.
 * `ds_4k9x…`. The prefix tells a person (and a log line) what an id points at; randomness
 * keeps ids unguessable and lets any replica mint them without coordination.
 */
import { randomBytes } from "node:crypto";

/** Crockford base32, lowercase: no i, l, o, u, so ids survive being read aloud or retyped. */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const RANDOM_CHARS = 20;

/** The prefix of every kind of record. */
export const ID_PREFIX = {
  workspace: "ws",
  apiKey: "key",
  dataset: "ds",
  model: "mdl",
  modelVersion: "mv",
  app: "app",
  appVersion: "av",
  deployment: "dep",
  job: "job",
  monitorEvent: "evt",
  release: "rel",
  goldenCase: "gc",
  goldenRun: "gr",
} as const;

export type IdPrefix = (typeof ID_PREFIX)[keyof typeof ID_PREFIX];

/** A fresh id such as `mv_0f3k…` (prefix, underscore, 20 base32 characters). */
export function newId(prefix: IdPrefix): string {
  const bytes = randomBytes(13); // 104 bits, of which the first 100 are used
  let bits = 0;
  let buffer = 0;
  let out = `${prefix}_`;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < prefix.length + 1 + RANDOM_CHARS) {
      bits -= 5;
      out += ALPHABET.charAt((buffer >> bits) & 31);
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

const ID_BODY = `[${ALPHABET}]{${RANDOM_CHARS}}`;
const patterns = new Map<string, RegExp>();

/** True when `value` has the shape of an id with this prefix (it may still not exist). */
export function isId(prefix: IdPrefix, value: string): boolean {
  let pattern = patterns.get(prefix);
  if (!pattern) {
    pattern = new RegExp(`^${prefix}_${ID_BODY}$`);
    patterns.set(prefix, pattern);
  }
  return pattern.test(value);
}

/** True when `value` looks like any registry id, so names can be kept from imitating ids. */
export function looksLikeId(value: string): boolean {
  return Object.values(ID_PREFIX).some((prefix) => isId(prefix, value));
}
