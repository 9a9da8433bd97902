/**
 * A small typed HTTP client for the Ballast API, used by the CLI (and by tests as a caller
 * would use the API). Errors from the server arrive as {@link ClientError} carrying the
 * server's code, message and details so the CLI can print them as they are.
 */
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";

export interface ClientOptions {
  readonly url: string;
  readonly apiKey?: string;
}

export class ClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly { path?: string; message: string }[] = [],
  ) {
    super(message);
    this.name = "ClientError";
  }
}

/** The key from BALLAST_API_KEY, else the admin key the server saved in its data dir. */
export function resolveApiKey(explicit: string | undefined, dataDir: string): string | undefined {
  if (explicit) return explicit;
  if (process.env.BALLAST_API_KEY) return process.env.BALLAST_API_KEY;
  const file = path.join(dataDir, "admin.key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  return undefined;
}

export class BallastClient {
  constructor(private readonly options: ClientOptions) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
      ...extra,
    };
  }

  async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(route, this.options.url), {
        method,
        headers: this.headers(body === undefined ? {} : { "content-type": "application/json" }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ClientError(
        0,
        "unreachable",
        `Cannot reach Ballast at ${this.options.url} (${(error as Error).message}); is it running? Start it with \`npm start\``,
      );
    }
    return this.read<T>(response);
  }

  private async read<T>(response: Response): Promise<T> {
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new ClientError(
        response.status,
        "bad_response",
        `Unexpected response: ${text.slice(0, 200)}`,
      );
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: [] } }).error;
      throw new ClientError(
        response.status,
        error?.code ?? "error",
        error?.message ?? `HTTP ${response.status}`,
        error?.details ?? [],
      );
    }
    return parsed as T;
  }

  /** Upload a file as a dataset, streaming it. */
  async uploadDataset<T>(file: string, name?: string): Promise<T> {
    if (!existsSync(file)) throw new ClientError(0, "file_not_found", `No such file: ${file}`);
    const size = statSync(file).size;
    const query = new URLSearchParams({ filename: path.basename(file), ...(name ? { name } : {}) });
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    let response: Response;
    try {
      response = await fetch(new URL(`/v1/datasets?${query}`, this.options.url), {
        method: "POST",
        headers: this.headers({
          "content-type": "application/octet-stream",
          "content-length": String(size),
        }),
        body,
        duplex: "half",
      } as RequestInit);
    } catch (error) {
      throw new ClientError(
        0,
        "unreachable",
        `Cannot reach Ballast at ${this.options.url} (${(error as Error).message})`,
      );
    }
    return this.read<T>(response);
  }

  /** GET a binary resource (e.g. a model export); errors arrive as ClientError like the rest. */
  async download(route: string): Promise<{ bytes: Uint8Array; fileName?: string }> {
    let response: Response;
    try {
      response = await fetch(new URL(route, this.options.url), { headers: this.headers() });
    } catch (error) {
      throw new ClientError(
        0,
        "unreachable",
        `Cannot reach Ballast at ${this.options.url} (${(error as Error).message})`,
      );
    }
    if (!response.ok) return this.read(response);
    const disposition = response.headers.get("content-disposition") ?? "";
    const fileName = /filename="([^"]+)"/.exec(disposition)?.[1];
    const bytes = new Uint8Array(await response.arrayBuffer());
    return fileName ? { bytes, fileName } : { bytes };
  }

  /** Follow a server-sent event stream, calling `onEvent` per event until the stream ends. */
  async events(route: string, onEvent: (event: string, data: unknown) => void): Promise<void> {
    const response = await fetch(new URL(route, this.options.url), {
      headers: this.headers({ accept: "text/event-stream" }),
    });
    if (!response.ok || !response.body) {
      await this.read(response);
      return;
    }
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length) onEvent(event, JSON.parse(data.join("\n")));
        end = buffer.indexOf("\n\n");
      }
    }
  }
}
