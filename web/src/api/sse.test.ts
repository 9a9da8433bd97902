import { describe, expect, it } from "vitest";
import { readEvents, SseParser } from "./sse.ts";

function streamOf(chunks: readonly string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

async function collect(chunks: readonly string[]) {
  const out = [];
  for await (const e of readEvents(streamOf(chunks))) out.push(e);
  return out;
}

describe("SSE parsing", () => {
  it("reads named events with JSON data, skipping comments", async () => {
    const events = await collect([
      ": keep-alive\n\n",
      'event: progress\ndata: {"fraction":0.5}\n\n',
      'event: done\ndata: {"status":"succeeded"}\n\n',
    ]);
    expect(events).toEqual([
      { event: "progress", data: '{"fraction":0.5}' },
      { event: "done", data: '{"status":"succeeded"}' },
    ]);
  });

  it("reassembles events split at any byte, including inside CRLF and UTF-8", async () => {
    const text = 'event: progress\r\ndata: {"message":"fitting gbdt — 3/9"}\r\n\r\n';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.slice(0, cut));
          controller.enqueue(bytes.slice(cut));
          controller.close();
        },
      });
      const events = [];
      for await (const e of readEvents(stream)) events.push(e);
      expect(events).toEqual([{ event: "progress", data: '{"message":"fitting gbdt — 3/9"}' }]);
    }
  });

  it("joins multi-line data, defaults the event name, and drops an unterminated event", () => {
    const parser = new SseParser();
    expect(parser.push("data: a\ndata: b\n\nid: 7\ndata:c\n\ndata: never")).toEqual([
      { event: "message", data: "a\nb" },
      { event: "message", data: "c", id: "7" },
    ]);
    expect(parser.end()).toEqual([]);
  });
});
