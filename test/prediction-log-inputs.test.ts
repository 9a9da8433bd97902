/**
 * The prediction log on a real server: what it keeps of each request's input is the record the
 * predict route answered, masked, whichever front door took the request (the fast path, or
 * Fastify's route for a query string or a trace header) and however the caller wrote its JSON
 * (escapes, spacing, a duplicated field, a batch). The log reads the records again, on its own
 * thread, from the body text the front door kept, so this checks that the text it reads gives
 * back exactly what was answered, and that no planted personal data reaches the file.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPiiMasker } from "../src/monitor/pii-mask.ts";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await publishChurn(server);
}, 180_000);

afterAll(async () => {
  await server?.close();
});

const EMAIL = "jo.smith@example.com";
const PHONE = "+44 20 7946 0958";
const CARD = "4111 1111 1111 1111";

/** POST a raw body to the churn app; its request id. */
async function predict(body: string, query = "", headers: Record<string, string> = {}) {
  const response = await fetch(new URL(`/v1/apps/churn/predict${query}`, server.url), {
    method: "POST",
    headers: {
      authorization: `Bearer ${server.adminKey}`,
      "content-type": "application/json",
      ...headers,
    },
    body,
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.headers.get("x-request-id") as string;
}

describe("the prediction log's inputs", () => {
  it("are the answered records, masked, through both front doors and however the JSON is written", async () => {
    const masker = createPiiMasker({ ips: true });
    const planted = { ...CHURN_RECORD, payment_method: EMAIL, contract: `call ${PHONE}` };
    const second = { ...CHURN_RECORD, tenure: 40, internet_service: `card ${CARD}` };
    const compact = JSON.stringify(planted);
    // An escaped "@", spacing and a duplicated field whose first value is personal data (the
    // last one counts, as JSON.parse reads it).
    const escaped = compact.replace("@", "\\u0040");
    const spaced = JSON.stringify(planted, null, 2);
    const duplicated = `{"payment_method": "${EMAIL}", ${compact.slice(1)}`;
    const batch = JSON.stringify({ rows: [planted, second] });
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    // What each front door told the observers: the text the log reads the records from.
    const texts = new Map<string, string | undefined>();
    server.ballast.context.observers.push({
      observe: (o) => void texts.set(o.requestId, o.bodyText),
    });
    const sent: [string, readonly Record<string, unknown>[]][] = [
      [await predict(compact), [planted]],
      [await predict(escaped), [planted]],
      [await predict(spaced), [planted]],
      [await predict(duplicated), [planted]],
      [await predict(batch), [planted, second]],
      // The route, not the fast path: a query string, and a caller's trace.
      [await predict(compact, "?explain=false"), [planted]],
      [await predict(batch, "?explain=false"), [planted, second]],
      [await predict(spaced, "", { traceparent }), [planted]],
    ];
    const bodies = [compact, escaped, spaced, duplicated, batch, compact, batch, spaced];
    expect(sent.map(([id]) => texts.get(id))).toEqual(bodies);
    const log = server.ballast.context.predictionLog;
    const store = await log.storeReady();
    const rows = await store.query(
      "SELECT request_id, row_index, input FROM predictions ORDER BY request_id, row_index",
    );
    const logged = new Map(rows.map((r) => [`${String(r[0])}#${String(r[1])}`, String(r[2])]));
    for (const [id, records] of sent) {
      records.forEach((record, row) => {
        const input = logged.get(`${id}#${row}`);
        expect(input, `request ${id} row ${row}`).toBeDefined();
        expect(JSON.parse(input as string)).toEqual(masker.maskValue(record));
      });
    }
    expect(rows).toHaveLength(sent.reduce((n, [, records]) => n + records.length, 0));
    const all = rows.map((r) => String(r[2])).join("\n");
    for (const secret of [EMAIL, "7946 0958", "4111"]) expect(all).not.toContain(secret);
    for (const token of ["[email]", "[phone]", "[card]"]) expect(all).toContain(token);
    expect(log.stats().dropped).toBe(0);
  });
});
