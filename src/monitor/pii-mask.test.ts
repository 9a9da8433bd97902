import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createPiiMasker, ibanValid, luhnValid, piiKindOfName } from "./pii-mask.ts";

const withIps = createPiiMasker({ ips: true });
const withoutIps = createPiiMasker({ ips: false });

/** Text around a planted value that holds nothing maskable (no digit, `@` or `:`). */
const filler = fc.stringMatching(/^[A-Za-z ,;!?()"'_=]{0,20}$/);
const around = (value: fc.Arbitrary<string>) =>
  fc.tuple(filler, value, filler).map(([a, v, b]) => ({ v, text: `${a} ${v} ${b}` }));

const digits = (n: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n });

/** A Luhn-valid card number of 13-19 digits, formatted with spaces, dashes or nothing. */
const card = fc
  .tuple(fc.integer({ min: 13, max: 19 }), fc.constantFrom("", " ", "-"))
  .chain(([n, sep]) =>
    digits(n - 1).map((body) => {
      const first = body[0] === 0 ? [4, ...body.slice(1)] : body;
      for (let check = 0; check < 10; check++) {
        const all = [...first, check].join("");
        if (luhnValid(all)) return (all.match(/.{1,4}/g) ?? []).join(sep);
      }
      throw new Error("no check digit");
    }),
  );

const ssn = fc
  .tuple(
    fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666),
    fc.integer({ min: 1, max: 99 }),
    fc.integer({ min: 1, max: 9999 }),
  )
  .map(
    ([a, g, s]) =>
      `${String(a).padStart(3, "0")}-${String(g).padStart(2, "0")}-${String(s).padStart(4, "0")}`,
  );

const e164 = fc
  .tuple(fc.integer({ min: 1, max: 999 }), digits(9), fc.constantFrom("", " ", "-", "."))
  .map(([cc, rest, sep]) => {
    const r = rest.join("");
    return `+${cc}${sep}${r.slice(0, 3)}${sep}${r.slice(3, 6)}${sep}${r.slice(6)}`;
  });

const national = fc.tuple(digits(10), fc.constantFrom(0, 1, 2, 3)).map(([d, style]) => {
  const s = d.join("");
  const [a, b, c] = [s.slice(0, 3), s.slice(3, 6), s.slice(6)];
  if (style === 0) return `(${a}) ${b}-${c}`;
  if (style === 1) return `${a}-${b}-${c}`;
  if (style === 2) return `${a}.${b}.${c}`;
  return `0${s.slice(0, 2)} ${s.slice(2, 6)} ${s.slice(6)}`;
});

const email = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,20}$/),
    fc.stringMatching(/^[a-z0-9]{1,12}$/),
    fc.constantFrom("com", "org", "co.uk", "io", "example"),
  )
  .map(([local, domain, tld]) => `${local}@${domain}.${tld}`);

describe("createPiiMasker: text", () => {
  it("keeps an own __proto__ field in the copy it masks", () => {
    // JSON.parse makes `__proto__` an own field; the copy must keep it, not set a prototype.
    const body = JSON.parse('{"email":"jo@example.com","nested":{"__proto__":false}}');
    const masked = withIps.maskValue(body) as Record<string, unknown>;
    expect(masked).toEqual(JSON.parse('{"email":"[email]","nested":{"__proto__":false}}'));
    expect(Object.keys(masked.nested as object)).toEqual(["__proto__"]);
  });

  it("masks planted values whatever surrounds them", () => {
    const cases: [fc.Arbitrary<string>, string][] = [
      [email, "[email]"],
      // Local parts with `/ = ? &` (rare; URL separators) are masked from the last of them on.
      [fc.emailAddress().filter((e) => /^[\w.!#$%'*+^`{|}~-]+@/.test(e)), "[email]"],
      [card, "[card]"],
      [ssn, "[national_id]"],
      [e164, "[phone]"],
      [national, "[phone]"],
      [fc.ipV4(), "[ip]"],
      [fc.ipV6(), "[ip]"],
    ];
    for (const [value, token] of cases) {
      fc.assert(
        fc.property(around(value), ({ v, text }) => {
          const out = withIps.maskText(text);
          expect(out).not.toContain(v);
          expect(out).toContain(token);
        }),
      );
    }
  });

  it("recognises the national ids named in its documentation", () => {
    const samples = [
      "DE89 3704 0044 0532 0130 00",
      "DE89370400440532013000",
      "GB82 WEST 1234 5698 7654 32",
      "FR14 2004 1010 0505 0001 3M02 606",
      "AB123456C",
      "JG 10 37 46 A",
      "078-05-1120",
    ];
    for (const s of samples)
      expect(withoutIps.maskText(`id ${s} here`)).toBe("id [national_id] here");
  });

  it("keeps ordinary numbers, years, dates, times, ids and versions", () => {
    const ordinary = fc.oneof(
      fc.integer({ min: -999_999_999_999, max: 999_999_999_999 }).map(String),
      fc.double({ min: -1e9, max: 1e9, noNaN: true }).map(String),
      fc.integer({ min: 1900, max: 2100 }).map(String),
      fc
        .date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc
        .date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })
        .map((d) => d.toISOString().slice(0, 10)),
      fc.uuid(),
      fc.stringMatching(/^[0-9a-f]{32}$/),
      fc.stringMatching(/^req-[0-9a-z]{1,12}$/),
    );
    fc.assert(
      fc.property(ordinary, filler, (n, text) => {
        const s = `${text} ${n} ${text}`;
        expect(withIps.maskText(s)).toBe(s);
        expect(withoutIps.maskText(s)).toBe(s);
      }),
    );
    expect(withIps.maskText("took 42 ms, 12.5 %, at 12:30:45 in 2024 on 2024-01-15")).toBe(
      "took 42 ms, 12.5 %, at 12:30:45 in 2024 on 2024-01-15",
    );
  });

  it("leaves addresses alone when ips is off (and does not call them phones)", () => {
    fc.assert(
      fc.property(around(fc.oneof(fc.ipV4(), fc.ipV6())), ({ text }) => {
        expect(withoutIps.maskText(text)).toBe(text);
      }),
    );
  });

  it("masks truncated and local addresses, not package versions", () => {
    expect(withIps.maskText('Unexpected token, ..."tenure": jane.doe@e"... is not JSON')).toBe(
      'Unexpected token, ..."tenure": [email]"... is not JSON',
    );
    expect(withIps.maskText("root@localhost and jo@163.com")).toBe("[email] and [email]");
    expect(withIps.maskText("loaded pino@9.14.0")).toBe("loaded pino@9.14.0");
  });

  it("leaves Luhn-invalid digit runs alone", () => {
    expect(withIps.maskText("order 4111111111111112")).toBe("order 4111111111111112");
    expect(withIps.maskText("card 4111 1111 1111 1111")).toBe("card [card]");
  });

  it("never throws and returns text unchanged when it has no @, digit or colon", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        const out = withIps.maskText(s);
        expect(typeof out).toBe("string");
        if (!/[@:\d]/.test(s)) expect(out).toBe(s);
      }),
    );
  });

  it("stays linear on huge adversarial strings", () => {
    const big = 200_000;
    const inputs = [
      "1".repeat(big),
      `${"a".repeat(big)}@`,
      "1-".repeat(big / 2),
      "1 2 ".repeat(big / 4),
      "a:".repeat(big / 2),
      "1.".repeat(big / 2),
    ];
    for (const s of inputs) expect(withIps.maskText(s).length).toBeGreaterThan(0);
  });
});

describe("createPiiMasker: values", () => {
  it("masks fields by name when the value could be what it says, and keeps other scalars", () => {
    const input = {
      customerEmail: "42",
      // A yes/no feature named after a phone: its 0/1 is kept, a long number is not.
      phone_service: 0,
      mobile: 5551234567,
      faxOptIn: true,
      phone_number: "n/a",
      cardNumber: 4111111111111111,
      ssn: { nested: true },
      iban: "x",
      ip: "anything",
      remoteAddress: "127.0.0.1",
      zip: "90210",
      age: 42,
      score: 12.5,
      active: false,
      none: null,
      note: "write to jo@example.com",
      list: ["078-05-1120", 7],
    };
    expect(withIps.maskValue(input)).toEqual({
      customerEmail: "[email]",
      phone_service: 0,
      mobile: "[phone]",
      faxOptIn: true,
      phone_number: "[phone]",
      cardNumber: "[card]",
      ssn: "[national_id]",
      iban: "[national_id]",
      ip: "[ip]",
      remoteAddress: "[ip]",
      zip: "90210",
      age: 42,
      score: 12.5,
      active: false,
      none: null,
      note: "write to [email]",
      list: ["[national_id]", 7],
    });
    const off = withoutIps.maskValue({ ip: "anything", remoteAddress: "127.0.0.1" });
    expect(off).toEqual({ ip: "anything", remoteAddress: "127.0.0.1" });
  });

  it("returns clean plain data itself, allocating nothing", () => {
    const cleanString = fc.stringMatching(/^[A-Za-z ]{0,12}$/);
    const cleanKey = fc
      .stringMatching(/^[a-z]{1,8}$/)
      .filter((k) => piiKindOfName(k) === undefined);
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        cleanString,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("value"), { maxLength: 4 }),
        fc.dictionary(cleanKey, tie("value"), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(value, (v) => {
        expect(withIps.maskValue(v)).toBe(v);
      }),
    );
  });

  it("equals a plain recursive masking on any JSON value, copying only what it changes", () => {
    /**
     * The reference: every string masked, every named field replaced when its value could hold
     * what the name says (not a boolean, not a number under 7 digits), recursively.
     */
    const reference = (v: unknown): unknown => {
      if (typeof v === "string") return withIps.maskText(v);
      if (Array.isArray(v)) return v.map(reference);
      if (v === null || typeof v !== "object") return v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const couldHold =
          x !== null && typeof x !== "boolean" && (typeof x !== "number" || x >= 1e6 || x <= -1e6);
        const kind = couldHold ? piiKindOfName(k) : undefined;
        out[k] = kind === undefined ? reference(x) : `[${kind}]`;
      }
      return out;
    };
    const planted = fc.oneof(email, card, ssn, e164, fc.ipV4());
    const key = fc.oneof(
      fc.stringMatching(/^[a-z]{1,8}$/),
      fc.constantFrom("email", "phoneNumber", "ssn", "client_ip", "iban"),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.string({ maxLength: 12 }),
        planted,
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("value"), { maxLength: 4 }),
        fc.dictionary(key, tie("value"), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(value, (v) => {
        const before = JSON.stringify(v);
        const expected = reference(v);
        const out = withIps.maskValue(v);
        expect(out).toEqual(expected);
        // The input is never modified; it comes back itself exactly when nothing changed.
        expect(JSON.stringify(v)).toBe(before);
        if (JSON.stringify(expected) === before) expect(out).toBe(v);
        else expect(out).not.toBe(v);
      }),
    );
  });

  it("copies dates, class instances and deep values rather than returning them", () => {
    const at = new Date(Date.UTC(2025, 0, 1));
    expect(withIps.maskValue({ at })).toEqual({ at: "2025-01-01T00:00:00.000Z" });
    const url = new URL("https://example.com/a");
    expect(withIps.maskValue(url)).toBe("https://example.com/a");
    let deep: unknown = "clean";
    for (let i = 0; i < 40; i++) deep = { next: deep };
    const out = withIps.maskValue(deep);
    expect(out).toEqual(deep);
    expect(out).not.toBe(deep);
  });

  it("remembers short texts without changing what they mask to", () => {
    const masker = createPiiMasker({ ips: false });
    for (let round = 0; round < 3; round++) {
      // More distinct short strings than the map holds: it starts again, answers stay right.
      for (let i = 0; i < 5000; i++) {
        expect(masker.maskText(`call 555-123-${String(i % 10_000).padStart(4, "0")}`)).toBe(
          "call [phone]",
        );
        expect(masker.maskText(`plan ${i}`)).toBe(`plan ${i}`);
      }
    }
  });

  it("writes errors as plain objects with masked message and stack, and survives cycles", () => {
    const error = new Error("bad value jo@example.com");
    const out = withIps.maskValue({ err: error }) as { err: Record<string, unknown> };
    expect(out.err.type).toBe("Error");
    expect(out.err.message).toBe("bad value [email]");
    expect(String(out.err.stack)).not.toContain("jo@example.com");
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(withIps.maskValue(cyclic)).toEqual({ a: 1, self: "[Circular]" });
  });
});

describe("piiKindOfName", () => {
  it("reads words and pairs of words in any case style", () => {
    expect(piiKindOfName("email")).toBe("email");
    expect(piiKindOfName("EmailAddress")).toBe("email");
    expect(piiKindOfName("x-forwarded-for")).toBe("ip");
    expect(piiKindOfName("clientIp")).toBe("ip");
    expect(piiKindOfName("credit_card")).toBe("card");
    expect(piiKindOfName("national-id")).toBe("national_id");
    expect(piiKindOfName("zip")).toBeUndefined();
    expect(piiKindOfName("description")).toBeUndefined();
    expect(piiKindOfName("cardinality")).toBeUndefined();
    expect(piiKindOfName("hotel")).toBeUndefined();
  });
});

describe("checksums", () => {
  it("Luhn and IBAN mod 97", () => {
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
    expect(ibanValid("DE89370400440532013000")).toBe(true);
    expect(ibanValid("DE89370400440532013001")).toBe(false);
    expect(ibanValid("ZZ89370400440532013000")).toBe(false);
  });
});
