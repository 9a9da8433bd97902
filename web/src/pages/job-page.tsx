/**
 * A training job, live: the server streams `progress` events (candidates tried, best score so
 * far, time used) and a final `done` with the job. Read with fetch so the key travels in the
 * Authorization header; if the stream breaks, the page polls the job instead.
 */
import { useEffect, useState } from "react";
import { useParams } from "react-router";
import { ApiRequestError, seg, unwrap } from "../api/client.ts";
import type { JobDto, TrainProgressDto } from "../api/types.ts";
import {
  ButtonLink,
  Card,
  ErrorBanner,
  Loading,
  Notice,
  PageHeader,
  ProgressBar,
  Stat,
} from "../components/ui.tsx";
import { formatDuration, formatNumber, learnerLabel } from "../lib/format.ts";
import { useApi } from "../session/session.tsx";

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

export function JobPage() {
  const { id = "" } = useParams();
  const api = useApi();
  const [job, setJob] = useState<JobDto>();
  const [progress, setProgress] = useState<TrainProgressDto>();
  const [error, setError] = useState<unknown>();
  const [live, setLive] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    const fetchJob = async () =>
      unwrap<JobDto>(await api.get(`/v1/jobs/${seg(id)}`, signal), "job");

    const poll = async () => {
      while (!signal.aborted) {
        const current = await fetchJob();
        setJob(current);
        if (current.progress) setProgress(current.progress);
        if (FINISHED.has(current.status)) return;
        await new Promise((r) => setTimeout(r, 1500));
      }
    };

    (async () => {
      try {
        const first = await fetchJob();
        setJob(first);
        if (first.progress) setProgress(first.progress);
        if (FINISHED.has(first.status)) return;
        try {
          setLive(true);
          for await (const event of api.events(`/v1/jobs/${seg(id)}/events`, signal)) {
            if (event.event === "progress") {
              setProgress(JSON.parse(event.data) as TrainProgressDto);
            } else if (event.event === "done") {
              const done = JSON.parse(event.data) as JobDto;
              setJob(done);
              if (done.progress) setProgress(done.progress);
              setLive(false);
              return;
            }
          }
        } catch (streamError) {
          if (signal.aborted) return;
          if (streamError instanceof ApiRequestError && streamError.status === 401)
            throw streamError;
        }
        setLive(false);
        // The stream ended or broke before `done`: fall back to polling.
        await poll();
      } catch (err) {
        if (!signal.aborted) {
          setLive(false);
          setError(err);
        }
      }
    })();
    return () => controller.abort();
  }, [api, id]);

  if (error && !job) return <ErrorBanner title="Could not load the training job" error={error} />;
  if (!job) return <Loading label="Loading the training job…" />;

  const input = job.input;
  const model = input.name ?? input.dataset;
  const finished = FINISHED.has(job.status);
  const p = progress;
  const left = p ? Math.max(0, p.timeBudgetMs - p.elapsedMs) : undefined;
  const fraction = job.status === "succeeded" ? 1 : (p?.fraction ?? 0);

  return (
    <>
      <PageHeader
        crumbs={[
          { label: "Data", to: "/data" },
          { label: input.dataset, to: `/data/${seg(input.dataset)}` },
        ]}
        title={
          finished
            ? `Training ${model}: ${job.status === "succeeded" ? "done" : job.status}`
            : `Training ${model}`
        }
        subtitle={`Predicting ${input.target} from ${input.dataset}, searching for up to ${formatDuration((input.timeBudgetSeconds ?? 60) * 1000)}.`}
      />
      <Card
        title={
          <span className="row" style={{ gap: 8 }}>
            {live ? <span className="live-dot" aria-hidden="true" /> : null}
            {job.status === "queued"
              ? "Waiting for a free worker…"
              : job.status === "running"
                ? "Searching for the best model"
                : job.status === "succeeded"
                  ? "The search is over"
                  : "Training stopped"}
          </span>
        }
      >
        <div className="stack" style={{ gap: 8 }}>
          <ProgressBar
            label="Training progress"
            value={fraction}
            indeterminate={job.status === "queued"}
          />
          <div className="row small muted">
            <span aria-live="polite" data-testid="progress-message">
              {p?.message ?? (job.status === "queued" ? "Queued" : "Starting…")}
            </span>
            <span className="spacer" />
            <span>{Math.round(fraction * 100)}%</span>
          </div>
        </div>
        <div className="stats">
          <Stat
            label="Candidates tried"
            value={
              p
                ? `${p.candidatesTried}${p.candidatesPlanned ? ` of ${p.candidatesPlanned}` : ""}`
                : "—"
            }
            hint="Models with different settings"
          />
          <Stat
            label="Best score so far"
            value={p?.best ? formatNumber(p.best.score, 4) : "—"}
            hint={
              p?.best
                ? `${learnerLabel(p.best.learner)}, cross-validated${input.metric ? ` ${input.metric}` : ""}`
                : "After the first candidate"
            }
          />
          <Stat label="Time used" value={p ? formatDuration(p.elapsedMs) : "—"} />
          <Stat
            label="Time left"
            value={finished ? "—" : left !== undefined ? formatDuration(left) : "—"}
            hint={finished ? undefined : "At most; it stops early when nothing improves"}
          />
        </div>
      </Card>
      {job.status === "succeeded" && job.result ? (
        <Notice tone="success" title={`Model ${job.result.model} v${job.result.version} is ready`}>
          <div className="row" style={{ marginTop: 8 }}>
            <span>See how good it is, then publish it as an app.</span>
            <ButtonLink
              variant="primary"
              to={`/models/${seg(`${job.result.model}@${job.result.version}`)}`}
            >
              Open the report
            </ButtonLink>
          </div>
        </Notice>
      ) : null}
      {job.status === "failed" || job.status === "cancelled" ? (
        <ErrorBanner
          title={job.status === "failed" ? "Training failed" : "Training was cancelled"}
          error={
            new ApiRequestError(
              0,
              job.error?.code ?? job.status,
              job.error?.message ?? "The job ended without a model.",
            )
          }
        />
      ) : null}
      {error ? <ErrorBanner title="Lost contact with the job" error={error} /> : null}
    </>
  );
}
