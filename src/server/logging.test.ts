import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { createPiiMasker } from "../monitor/pii-mask.ts";
import { loggerOptions, maskUrl } from "./logging.ts";

const masker = createPiiMasker({ ips: true });

/** A Fastify server logging at debug level into an array, with the masking options. */
function capture(maskIps = true) {
  const lines: Record<string, unknown>[] = [];
  const server = Fastify({
    logger: loggerOptions({
      level: "debug",
      masker: createPiiMasker({ ips: maskIps }),
      maskIps,
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    }),
  });
  return { server, lines, text: () => JSON.stringify(lines) };
}

describe("loggerOptions", () => {
  it("masks messages, format arguments, logged objects and an error's message and stack", () => {
    const { server, lines, text } = capture();
    const log = server.log;
    log.info({ user: { email: "x", note: "call +44 20 7946 0958" } }, "for %s", "jo@example.com");
    log.info("card %o", { number: "4111 1111 1111 1111" });
    log.error(new Error("rejected jo@example.com"));
    log.warn({ err: new Error("ssn 078-05-1120 refused") });
    expect(text()).not.toMatch(/jo@example\.com|7946|4111|078-05-1120/);
    expect(lines[0]).toMatchObject({
      user: { email: "[email]", note: "call [phone]" },
      msg: "for [email]",
    });
    expect(lines[1]?.msg).toBe('card {"number":"[card]"}');
    expect(lines[2]).toMatchObject({
      msg: "rejected [email]",
      err: { message: "rejected [email]" },
    });
    const err = lines[2]?.err as { stack?: string } | undefined;
    expect(err?.stack).toContain("rejected [email]");
    expect(lines[3]).toMatchObject({ msg: "ssn [national_id] refused" });
  });

  it("masks request lines: the URL (also percent-encoded), host and remote address", async () => {
    const { server, lines, text } = capture();
    server.get("/x", async () => "ok");
    await server.inject({
      method: "GET",
      url: `/x?who=jo@example.com&tel=${encodeURIComponent("+44 20 7946 0958")}`,
      remoteAddress: "203.0.113.9",
    });
    const incoming = lines.find((l) => l.msg === "incoming request");
    expect(incoming?.req).toMatchObject({
      url: "/x?who=[email]&tel=[phone]",
      remoteAddress: "[ip]",
    });
    expect(text()).not.toMatch(/203\.0\.113\.9|jo@example|7946/);
    // Each line of the request carries its reqId (the trace id is added by request-trace.ts).
    expect(lines.filter((l) => l.reqId !== undefined).length).toBeGreaterThanOrEqual(2);
  });

  it("leaves addresses in place when IPs are not masked", async () => {
    const { server, lines } = capture(false);
    server.get("/x", async () => "ok");
    await server.inject({ method: "GET", url: "/x", remoteAddress: "203.0.113.9" });
    expect(lines.find((l) => l.msg === "incoming request")?.req).toMatchObject({
      remoteAddress: "203.0.113.9",
    });
  });
});

describe("maskUrl", () => {
  it("masks what percent-encoding hid, and keeps a clean URL exactly as sent", () => {
    expect(maskUrl("/a?q=%2B44%2020%207946%200958", masker)).toBe("/a?q=[phone]");
    expect(maskUrl("/a?q=jo%40example.com", masker)).toBe("/a?q=[email]");
    expect(maskUrl("/a?q=caf%C3%A9&x=%zz", masker)).toBe("/a?q=caf%C3%A9&x=%zz");
    expect(maskUrl("/a?q=caf%C3%A9", masker)).toBe("/a?q=caf%C3%A9");
  });
});
