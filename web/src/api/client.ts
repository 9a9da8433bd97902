/**
 * The Studio's one way to the API: every call carries the session's key, every failure becomes
 * an ApiRequestError with the server's `{error:{code,message,details}}` (or a readable stand-in
 * when the server could not be reached), so pages show the API's own words.
 */
import { readEvents, type SseEvent } from "./sse.ts";

export interface ErrorDetail {
  readonly path?: string;
  readonly message: string;
}

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = "ApiRequestError";
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The uniform error body, or a sentence that names the HTTP status. */
export function errorFromBody(status: number, body: unknown): ApiRequestError {
  const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  if (error && typeof error.message === "string") {
    const details = Array.isArray(error.details)
      ? error.details.filter(isRecord).map((d) => ({
          ...(typeof d.path === "string" ? { path: d.path } : {}),
          message: typeof d.message === "string" ? d.message : String(d.message),
        }))
      : [];
    return new ApiRequestError(
      status,
      typeof error.code === "string" ? error.code : "error",
      error.message,
      details,
    );
  }
  return new ApiRequestError(
    status,
    status === 404 ? "not_found" : "http_error",
    status >= 500
      ? `The server failed (HTTP ${status}); try again, and check its logs if it persists`
      : `The request was refused (HTTP ${status})`,
  );
}

const UNREACHABLE = () =>
  new ApiRequestError(0, "network", "Cannot reach the Ballast server. Is it still running?");

export interface UploadProgress {
  readonly loaded: number;
  readonly total: number;
}

export class ApiClient {
  constructor(
    private readonly key: () => string | undefined,
    /** Called when the server says the key is not (or no longer) valid. */
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const key = this.key();
    return { ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra };
  }

  private fail(status: number, body: unknown): never {
    const error = errorFromBody(status, body);
    if (status === 401) this.onUnauthorized();
    throw error;
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers: this.headers(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw UNREACHABLE();
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) this.fail(response.status, parsed);
    return parsed as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, undefined, signal);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.request<unknown>("DELETE", path);
  }

  /**
   * Send a file's bytes as the body, reporting progress (fetch cannot report upload progress,
   * XMLHttpRequest can). The body is octet-stream so the server never tries to parse it.
   */
  upload<T>(
    path: string,
    file: Blob,
    onProgress: (p: UploadProgress) => void,
    signal?: AbortSignal,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      for (const [k, v] of Object.entries(
        this.headers({ "content-type": "application/octet-stream" }),
      )) {
        xhr.setRequestHeader(k, v);
      }
      xhr.upload.onprogress = (e) => {
        onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
      };
      xhr.onerror = () => reject(UNREACHABLE());
      xhr.onabort = () => reject(new DOMException("The upload was cancelled", "AbortError"));
      xhr.onload = () => {
        let parsed: unknown;
        try {
          parsed = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
        } catch {
          parsed = undefined;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(parsed as T);
        else {
          if (xhr.status === 401) this.onUnauthorized();
          reject(errorFromBody(xhr.status, parsed));
        }
      };
      signal?.addEventListener("abort", () => xhr.abort(), { once: true });
      xhr.send(file);
    });
  }

  /** Server-sent events from `path`, with the Authorization header EventSource cannot send. */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    let response: Response;
    try {
      response = await fetch(path, {
        headers: this.headers({ accept: "text/event-stream" }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw UNREACHABLE();
    }
    if (!response.ok || !response.body) {
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      this.fail(response.status, parsed);
    }
    yield* readEvents(response.body);
  }
}

/** A DTO that some endpoints wrap (`{dataset: …}`) and some return bare. */
export function unwrap<T>(body: unknown, key: string): T {
  if (isRecord(body) && key in body && isRecord(body[key])) return body[key] as T;
  return body as T;
}

/** A path segment, escaped. */
export const seg = (s: string | number) => encodeURIComponent(String(s));
