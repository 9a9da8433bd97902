/**
 * The release API as the Studio calls it: environments, rollouts and golden suites of one app.
 * One typed function per route, so the pages never spell a path or guess a body's shape, and a
 * route's change on the server shows up here, in one file.
 */
import { type ApiClient, seg } from "./client.ts";
import type {
  EnvironmentsDto,
  GoldenCaseDto,
  GoldenRunDto,
  NewGoldenCaseRequest,
  PromoteRequest,
  PromoteResponse,
  ReleaseDto,
  ReleasesDto,
  RollbackResponse,
} from "./types.ts";

const base = (app: string) => `/v1/apps/${seg(app)}`;

/** Which version production and staging run, and what they ran before. */
export function getEnvironments(
  api: ApiClient,
  app: string,
  signal?: AbortSignal,
): Promise<EnvironmentsDto> {
  return api.get<EnvironmentsDto>(`${base(app)}/environments`, signal);
}

/** The active release with its live gates and traffic, and every release before it. */
export function getReleases(
  api: ApiClient,
  app: string,
  signal?: AbortSignal,
): Promise<ReleasesDto> {
  return api.get<ReleasesDto>(`${base(app)}/releases`, signal);
}

/**
 * Put a version in staging, or start its release to production. A refused promotion throws
 * an ApiRequestError: `golden_failed` (its details name the failing cases) or
 * `release_in_progress`.
 */
export function promote(
  api: ApiClient,
  app: string,
  request: PromoteRequest,
): Promise<PromoteResponse> {
  return api.post<PromoteResponse>(`${base(app)}/promote`, request);
}

/** Production back to its previous version (or the stable one, during a rollout). */
export function rollback(api: ApiClient, app: string): Promise<RollbackResponse> {
  return api.post<RollbackResponse>(`${base(app)}/rollback`);
}

/** Stop the active release: all traffic back to the stable version. */
export function abort(api: ApiClient, app: string): Promise<ReleaseDto> {
  return api.post<ReleaseDto>(`${base(app)}/abort`);
}

/** A person's go: a paused canary step goes on; a shadow or A/B candidate is promoted. */
export function approve(api: ApiClient, app: string): Promise<ReleaseDto> {
  return api.post<ReleaseDto>(`${base(app)}/approve`);
}

export async function listGoldenCases(
  api: ApiClient,
  app: string,
  signal?: AbortSignal,
): Promise<readonly GoldenCaseDto[]> {
  return (await api.get<{ cases: readonly GoldenCaseDto[] }>(`${base(app)}/golden`, signal)).cases;
}

/** Save cases; a case without `expected` expects what production answers now. */
export async function addGoldenCase(
  api: ApiClient,
  app: string,
  request: NewGoldenCaseRequest,
): Promise<readonly GoldenCaseDto[]> {
  return (await api.post<{ cases: readonly GoldenCaseDto[] }>(`${base(app)}/golden`, request))
    .cases;
}

export async function deleteGoldenCase(api: ApiClient, app: string, id: string): Promise<void> {
  await api.delete(`${base(app)}/golden/${seg(id)}`);
}

/** Run the suite on a version (default: the server's choice, staging's version or production's). */
export function runGoldenSuite(
  api: ApiClient,
  app: string,
  version?: number,
): Promise<GoldenRunDto> {
  return api.post<GoldenRunDto>(
    `${base(app)}/golden/run`,
    version !== undefined ? { version } : {},
  );
}
