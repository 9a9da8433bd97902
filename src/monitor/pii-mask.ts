/**
 * Masks personal data in text and in JSON-like values before they leave the process (log
 * lines, prediction logs). Logs are read by more people, kept longer and copied to more places
 * than the data they describe, and error messages echo what callers sent, so every string
 * written is masked rather than trusting each call site to remember.
 *
 * What is recognised in text, replaced by a token:
 * - `[email]`: e-mail addresses (local part ≤ 64 characters, without the `/ = ? &` that RFC 5322
 *   allows but URLs use as separators: such an address is masked from the last of them on; a
 *   domain with a letter TLD, or one
 *   starting with a letter, so `jo@localhost` and the cut-off `jo@exa` an error message quotes
 *   are masked too, but not a package version like `pino@9.14.0`).
 * - `[card]`: payment card numbers, 13-19 digits with optional single spaces or dashes between
 *   digits, only when the Luhn check passes (so most long ids and timestamps are left alone).
 * - `[national_id]`: US SSN `ddd-dd-dddd` (not area 000, 666 or 9xx, group 00, serial 0000);
 *   UK National Insurance numbers (`AB123456C`, optionally spaced `AB 12 34 56 C`, with the
 *   official prefix letters); IBANs (compact or grouped by four, the country's registered length
 *   and a valid ISO 13616 mod-97 check; upper case only).
 * - `[ip]` (only with `ips: true`): IPv4 dotted quads and IPv6 addresses (checked with
 *   `node:net`'s `isIPv6`, so times like `12:30:45` stay).
 * - `[phone]`: E.164 (`+` then 7-15 digits, separators allowed) and national formats with
 *   separators: `(555) 123-4567`, `555-123-4567`, `020 7946 0958`, `01 23 45 67 89` (9-15
 *   digits and at least two separators or an area code in parentheses). Plain digit runs,
 *   decimals, years and dates are not phones: nothing can tell `5551234567` from a count.
 *
 * A field whose name says what it holds (`email`, `phone`, `mobile`, `ssn`, `card`, `iban`,
 * `nino`, `ip`, `remoteAddress`, `x-forwarded-for`, …) is masked whatever its value.
 *
 * Cheap when nothing matches: a string with neither `@`, a digit nor (with `ips`) a `:` is
 * returned as is without running any pattern; each pattern runs only when its precondition holds.
 * Short strings repeat (category values, codes, dates in a contract's fields): what masking made
 * of each is remembered in a bounded map, looked up before anything else. `maskValue` first
 * looks for anything to mask and returns the value itself when there is nothing, copying only
 * otherwise.
 */
import { isIPv6 } from "node:net";

/** The tokens that replace what was masked. */
export type PiiKind = "email" | "phone" | "card" | "national_id" | "ip";

export interface PiiMaskerOptions {
  /** Mask IPv4 and IPv6 addresses too (and fields named like `ip` or `remoteAddress`). */
  readonly ips: boolean;
}

export interface PiiMasker {
  /** The text with every recognised item replaced by its token (`[email]`, `[card]`, …). */
  maskText(s: string): string;
  /**
   * `v` with every string masked and every field named for personal data replaced by its token:
   * `v` itself when that changes nothing and it is plain data (strings, numbers, booleans, null,
   * arrays and plain objects, no cycles), so the common case allocates nothing; otherwise a deep
   * copy (arrays, plain objects, errors as `{type, message, stack, …}`, dates as ISO strings).
   * Numbers, booleans, null and undefined are kept (a number is only masked by its field name).
   * Either way `v` is never modified; callers must not modify the result either.
   */
  maskValue(v: unknown): unknown;
  /**
   * The token a field of this name is replaced with whatever its value (`[email]` for
   * `customerEmail`), or undefined when its value is masked as any other. Lets a caller that
   * sees the same field names again and again (a prediction log's records) decide once per
   * list of names rather than once per value.
   */
  fieldToken(name: string): string | undefined;
}

const TOKEN: Readonly<Record<PiiKind, string>> = {
  email: "[email]",
  phone: "[phone]",
  card: "[card]",
  national_id: "[national_id]",
  ip: "[ip]",
};

// Bounded repetitions everywhere: a pattern must cost O(length) on a huge string, whatever
// it holds (a 1 MB value of digits, or of letters before one `@`).
// The domain needs a letter TLD or a leading letter: `jo@163.com` and a truncated `jo@exa` (error
// messages cut what they quote) are addresses, `pino@9.14.0` is a package version.
const EMAIL =
  /[\w.!#$%'*+^`{|}~-]{1,64}@(?:(?:[A-Za-z0-9-]{1,63}\.){1,10}[A-Za-z]{2,24}|[A-Za-z][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63}){0,10})(?![\w-])/g;
const IBAN = /\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)\b/g;
const NINO =
  /\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/gi;
const SSN = /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/g;
// Not inside dash-joined digit groups (a UUID's all-digit segments) nor a decimal's digits.
const CARD = /(?<![\w.-])\d(?:[ -]?\d){12,18}(?!\w|[.-]\w)/g;
const IPV4 =
  /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)/g;
// A candidate run of hex digits and colons (with an optional embedded IPv4 tail), judged by
// `isIPv6`; the look-ahead asks for two colons so words with one colon are skipped quickly.
const IPV6 =
  /(?<![\w:.])(?=[0-9A-Fa-f:]{0,39}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}(?:\d{1,3}(?:\.\d{1,3}){3})?(?![\w:.])/g;
const PHONE_E164 = /(?<![\w+])\+\(?\d[\d ().-]{5,24}\d(?!\d)/g;
const PHONE_NATIONAL =
  /(?<![\w+.:-])(?:\(\d{2,5}\)[ .-]?\d{2,5}(?:[ .-]\d{2,6}){0,4}|\d{2,5}(?:[ .-]\d{2,6}){2,5})(?![\w:]|[.-]\d)/g;

/** Every pattern but e-mail and IPv6 needs a digit: one quick test before running them. */
const DIGIT = /\d/;

// biome-ignore format: a table reads better than one entry a line
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29,
  BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29,
  ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28,
  LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20,
  MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25,
  QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27,
  SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

/** ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 must be 1. */
export function ibanValid(candidate: string): boolean {
  const iban = candidate.replace(/ /g, "");
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (let i = 0; i < moved.length; i++) {
    const c = moved.charCodeAt(i);
    if (c >= 48 && c <= 57) rest = (rest * 10 + (c - 48)) % 97;
    else rest = (rest * 100 + (c - 55)) % 97;
  }
  return rest === 1;
}

/** The Luhn check of a string of digits (other characters are skipped). */
export function luhnValid(candidate: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = candidate.length - 1; i >= 0; i--) {
    const c = candidate.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    let d = c - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

const DOTTED_QUAD = /^\d{1,3}(?:\.\d{1,3}){3}$/;

function phoneNational(match: string): string {
  const digits = digitCount(match);
  if (digits < 9 || digits > 15) return match;
  // A dotted quad is an address (masked as such when `ips` is on), not a phone.
  if (DOTTED_QUAD.test(match)) return match;
  return TOKEN.phone;
}

function phoneE164(match: string): string {
  const digits = digitCount(match);
  return digits >= 7 && digits <= 15 ? TOKEN.phone : match;
}

/** Field names (split into lower-case words, and pairs of words) that say what they hold. */
const NAMED: ReadonlyMap<string, PiiKind> = new Map<string, PiiKind>([
  ["email", "email"],
  ["emails", "email"],
  ["mail", "email"],
  ["emailaddress", "email"],
  ["phone", "phone"],
  ["phones", "phone"],
  ["phonenumber", "phone"],
  ["telephone", "phone"],
  ["tel", "phone"],
  ["mobile", "phone"],
  ["cellphone", "phone"],
  ["msisdn", "phone"],
  ["fax", "phone"],
  ["card", "card"],
  ["cards", "card"],
  ["creditcard", "card"],
  ["cardnumber", "card"],
  ["ccnumber", "card"],
  ["ssn", "national_id"],
  ["nino", "national_id"],
  ["iban", "national_id"],
  ["nationalid", "national_id"],
  ["socialsecurity", "national_id"],
  ["passport", "national_id"],
  ["ip", "ip"],
  ["ips", "ip"],
  ["ipv4", "ip"],
  ["ipv6", "ip"],
  ["ipaddress", "ip"],
  ["ipaddr", "ip"],
  ["remoteaddress", "ip"],
  ["forwardedfor", "ip"],
]);

const WORD_SPLIT = /[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])/;

/** What a field's name says it holds, if anything (`customerEmail` → email, `zip` → nothing). */
export function piiKindOfName(name: string): PiiKind | undefined {
  const words = name.split(WORD_SPLIT);
  let previous = "";
  for (const raw of words) {
    if (raw === "") continue;
    const word = raw.toLowerCase();
    const kind = NAMED.get(word) ?? (previous === "" ? undefined : NAMED.get(previous + word));
    if (kind !== undefined) return kind;
    previous = word;
  }
  return undefined;
}

/** Strings up to this long have their masked form remembered (category values, short codes). */
const SHORT_TEXT = 64;
/** How many short strings are remembered before the map starts again. */
const SHORT_TEXTS = 4096;
/** Nesting scanned before a value is handed to the copy (which also handles cycles). */
const MAX_SCAN_DEPTH = 32;

/** Creates a masker; `ips` decides whether addresses are personal data in this deployment. */
export function createPiiMasker(options: PiiMaskerOptions): PiiMasker {
  const ips = options.ips;
  // Field names repeat (log keys, a contract's fields): remember each verdict, boundedly.
  const nameKinds = new Map<string, PiiKind | null>();

  function kindOfName(name: string): PiiKind | undefined {
    const known = nameKinds.get(name);
    if (known !== undefined) return known ?? undefined;
    let kind = piiKindOfName(name);
    if (kind === "ip" && !ips) kind = undefined;
    if (nameKinds.size < 4096) nameKinds.set(name, kind ?? null);
    return kind;
  }

  // Short strings repeat (category values, codes): remember what the patterns made of those
  // that needed them, boundedly.
  const shortTexts = new Map<string, string>();

  function maskText(s: string): string {
    if (s.length > SHORT_TEXT) return maskTextNow(s);
    // One lookup costs less than the three scans that clear most strings (a fifth to a third of
    // their time on a churn record's category values), so short strings are looked up first.
    const known = shortTexts.get(s);
    if (known !== undefined) return known;
    const masked = maskTextNow(s);
    // A full map starts again, so a flood of one-off strings cannot pin it forever.
    if (shortTexts.size >= SHORT_TEXTS) shortTexts.clear();
    shortTexts.set(s, masked);
    return masked;
  }

  function maskTextNow(s: string): string {
    const hasAt = s.includes("@");
    const hasDigit = DIGIT.test(s);
    const hasColon = ips && s.includes(":");
    if (!hasAt && !hasDigit && !hasColon) return s;
    let out = s;
    if (hasAt) out = out.replace(EMAIL, TOKEN.email);
    if (hasDigit) {
      out = out.replace(IBAN, (m) => (ibanValid(m) ? TOKEN.national_id : m));
      out = out.replace(NINO, TOKEN.national_id);
      out = out.replace(SSN, TOKEN.national_id);
      out = out.replace(CARD, (m) => (luhnValid(m) ? TOKEN.card : m));
    }
    // IPv6 before IPv4, so an embedded IPv4 tail (`::ffff:10.0.0.1`) goes with its address.
    if (hasColon) out = out.replace(IPV6, (m) => (isIPv6(m) ? TOKEN.ip : m));
    if (hasDigit) {
      out = out.replace(PHONE_E164, phoneE164);
      if (ips) out = out.replace(IPV4, TOKEN.ip);
      out = out.replace(PHONE_NATIONAL, phoneNational);
    }
    return out;
  }

  /** True when masking would change `v`, or `v` is not plain data (so it must be copied). */
  function needsCopy(v: unknown, depth: number): boolean {
    if (typeof v === "string") return maskText(v) !== v;
    if (v === null || typeof v !== "object") return false;
    // Deep or cyclic: let the copy (which turns cycles into "[Circular]") deal with it.
    if (depth >= MAX_SCAN_DEPTH) return true;
    if (Array.isArray(v)) {
      for (const item of v) if (needsCopy(item, depth + 1)) return true;
      return false;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return true;
    const record = v as Record<string, unknown>;
    for (const key in record) {
      const value = record[key];
      if (value === null || value === undefined) continue;
      if (mayHoldPii(value) && kindOfName(key) !== undefined) return true;
      if (needsCopy(value, depth + 1)) return true;
    }
    return false;
  }

  function maskValue(v: unknown): unknown {
    return needsCopy(v, 0) ? copy(v, kindOfName, maskText, []) : v;
  }

  function fieldToken(name: string): string | undefined {
    const kind = kindOfName(name);
    return kind === undefined ? undefined : TOKEN[kind];
  }

  return { maskText, maskValue, fieldToken };
}

/**
 * Whether a field's value could be what its name says (a `phone_service` of 0 is a flag, not
 * a phone number): text, a number of at least 7 digits, or a structure. Booleans and small
 * numbers never are, so they are kept as they are whatever the field is called.
 */
export function mayHoldPii(value: unknown): boolean {
  if (value === null || value === undefined || typeof value === "boolean") return false;
  if (typeof value === "number" || typeof value === "bigint") {
    return Math.abs(Number(value)) >= 1_000_000;
  }
  return true;
}

function copy(
  v: unknown,
  kindOfName: (name: string) => PiiKind | undefined,
  maskText: (s: string) => string,
  ancestors: object[],
): unknown {
  if (typeof v === "string") return maskText(v);
  if (v === null || typeof v !== "object") return v;
  if (ancestors.includes(v)) return "[Circular]";
  ancestors.push(v);
  try {
    if (Array.isArray(v)) return v.map((item) => copy(item, kindOfName, maskText, ancestors));
    let source: object = v;
    if (v instanceof Error) {
      const plain: Record<string, unknown> = { type: v.name, message: v.message, stack: v.stack };
      for (const [key, value] of Object.entries(v)) plain[key] = value;
      source = plain;
    } else if (v instanceof Date) {
      return v.toISOString();
    } else if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
      // Buffers, URLs and the like: what JSON.stringify would write, masked.
      return copy((v as { toJSON(): unknown }).toJSON(), kindOfName, maskText, ancestors);
    }
    // fromEntries defines each key as an own property: assigning `out["__proto__"]` would set
    // the copy's prototype instead, and a parsed body's own `__proto__` field would vanish.
    return Object.fromEntries(
      Object.entries(source).map(([key, value]) => {
        const kind = mayHoldPii(value) ? kindOfName(key) : undefined;
        return [
          key,
          kind === undefined ? copy(value, kindOfName, maskText, ancestors) : TOKEN[kind],
        ];
      }),
    );
  } finally {
    ancestors.pop();
  }
}
