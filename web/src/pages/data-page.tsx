/**
 * Data: the datasets of the workspace, and the ways in: drag a file onto the page, pick one,
 * or start from a bundled sample.
 */
import { type DragEvent, Fragment, useRef, useState } from "react";
import { Link, useNavigate } from "react-router";
import { ApiRequestError, seg } from "../api/client.ts";
import type { DatasetDto, SampleFileDto } from "../api/types.ts";
import { DataIcon, UploadIcon } from "../components/icons.tsx";
import {
  Badge,
  Button,
  Card,
  EmptyState,
  ErrorBanner,
  Loading,
  PageHeader,
  ProgressBar,
} from "../components/ui.tsx";
import { formatBytes, formatInteger, formatWhen } from "../lib/format.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";
import { fetchSample, importFile, type UploadPhase } from "./upload.ts";

const ACCEPT = ".csv,.tsv,.txt,.parquet,.json,.ndjson,.jsonl";

interface Sample extends SampleFileDto {
  readonly target?: string;
}

export function DataPage() {
  const api = useApi();
  const navigate = useNavigate();
  const datasets = useResource(
    (signal) => api.get<{ datasets: DatasetDto[] }>("/v1/datasets", signal),
    [api],
  );
  const samples = useResource(
    (signal) => api.get<{ samples: Sample[] }>("/studio/samples", signal),
    [api],
  );
  const [phase, setPhase] = useState<UploadPhase>();
  const [uploadError, setUploadError] = useState<{ error: unknown; fileName: string }>();
  const [dragging, setDragging] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const busy = phase !== undefined;

  const takenNames = () => new Set((datasets.data?.datasets ?? []).map((d) => d.name));

  const start = async (file: File, then?: { target?: string }) => {
    setUploadError(undefined);
    if (file.size === 0) {
      setUploadError({
        error: new Error(`${file.name} is empty (0 bytes): pick the file with your data in it.`),
        fileName: file.name,
      });
      setPhase(undefined);
      return;
    }
    try {
      const dataset = await importFile(api, file, takenNames(), setPhase);
      const params = new URLSearchParams();
      if (then?.target) {
        params.set("tab", "build");
        params.set("target", then.target);
      }
      navigate(`/data/${seg(dataset.name)}${params.size ? `?${params}` : ""}`);
    } catch (error) {
      setUploadError({ error, fileName: file.name });
      setPhase(undefined);
      datasets.reload();
    }
  };

  const onFiles = (files: FileList | null) => {
    const file = files?.[0];
    if (file) void start(file);
  };

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    if (!busy) onFiles(event.dataTransfer.files);
  };

  const startFromSample = async (sample: Sample) => {
    setUploadError(undefined);
    setPhase({ kind: "sending", fileName: sample.name, fraction: 0 });
    try {
      const file = await fetchSample(sample.name);
      await start(file, sample.target ? { target: sample.target } : undefined);
    } catch (error) {
      setUploadError({ error, fileName: sample.name });
      setPhase(undefined);
    }
  };

  const list = datasets.data?.datasets ?? [];

  const addCard = (
    <Card title="Add data">
      {/* biome-ignore lint/a11y/noStaticElementInteractions: dropping is a shortcut; the "Choose a file" button inside does the same by keyboard. */}
      <div
        className={`dropzone${dragging ? " dropzone-active" : ""}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = busy ? "none" : "copy";
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        {phase ? (
          <div className="upload-status" aria-live="polite">
            <strong>
              {phase.kind === "sending"
                ? `Uploading ${phase.fileName}… ${Math.round(phase.fraction * 100)}%`
                : `Reading ${phase.fileName}: checking types and profiling columns…`}
            </strong>
            <ProgressBar
              label={`Importing ${phase.fileName}`}
              value={phase.kind === "sending" ? phase.fraction : 1}
              indeterminate={phase.kind === "reading"}
            />
          </div>
        ) : (
          <>
            <span className="dropzone-icon">
              <UploadIcon />
            </span>
            <h2>Drop a file here</h2>
            <p className="muted">CSV, TSV, Parquet, JSON or NDJSON, up to 512 MB</p>
            <div className="row" style={{ marginTop: 8 }}>
              <Button variant="primary" onClick={() => inputRef.current?.click()}>
                Choose a file
              </Button>
            </div>
          </>
        )}
        <input
          ref={inputRef}
          type="file"
          accept={ACCEPT}
          className="visually-hidden"
          aria-label="Choose a data file to import"
          tabIndex={-1}
          onChange={(e) => {
            onFiles(e.target.files);
            e.target.value = "";
          }}
        />
      </div>
      {uploadError ? (
        <ErrorBanner title={`${uploadError.fileName} was not imported`} error={uploadError.error} />
      ) : null}
      {samples.data && samples.data.samples.length > 0 ? (
        <div className="stack" style={{ gap: 8 }}>
          <h3>No data at hand? Start from a sample</h3>
          {samples.data.samples.map((s) => (
            <div key={s.name} className="sample">
              <span className="dropzone-icon" aria-hidden="true">
                <DataIcon />
              </span>
              <div className="sample-text">
                <strong>{s.title}</strong>
                <p className="muted small">
                  {s.description} {formatBytes(s.sizeBytes)}, {s.format.toUpperCase()}.
                </p>
              </div>
              <Button onClick={() => void startFromSample(s)} disabled={busy}>
                Use this sample
              </Button>
            </div>
          ))}
        </div>
      ) : null}
    </Card>
  );

  const datasetsCard = (
    <Card
      title="Datasets"
      className="card-flush"
      actions={list.length > 0 ? <Badge>{list.length}</Badge> : undefined}
    >
      {datasets.loading && !datasets.data ? (
        <Loading label="Loading datasets…" />
      ) : datasets.error ? (
        <div style={{ padding: 24 }}>
          <ErrorBanner
            title="Could not load the datasets"
            error={datasets.error}
            onRetry={datasets.reload}
          />
        </div>
      ) : list.length === 0 ? (
        <EmptyState title="No datasets yet" icon={<DataIcon />}>
          Drop a file above, or use the sample, and it will appear here with its columns and a
          profile of every one.
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" className="num">
                  Rows
                </th>
                <th scope="col" className="num">
                  Columns
                </th>
                <th scope="col">Format</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">Imported</th>
              </tr>
            </thead>
            <tbody>
              {list.map((d) => (
                <tr key={d.id}>
                  <td>
                    <Link to={`/data/${seg(d.name)}`}>{d.name}</Link>
                    <div className="muted small">{d.fileName}</div>
                  </td>
                  <td className="num">{formatInteger(d.rowCount)}</td>
                  <td className="num">{d.columns.length}</td>
                  <td>
                    <Badge>{d.format.toUpperCase()}</Badge>
                  </td>
                  <td className="num">{formatBytes(d.sizeBytes)}</td>
                  <td className="nowrap">{formatWhen(d.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );

  return (
    <>
      <PageHeader
        title="Data"
        subtitle="Bring a table of examples: each row one case, each column something you know about it. Ballast reads CSV, TSV, Parquet, JSON and NDJSON."
      />
      {/* Keyed so React moves the two cards when the list fills, instead of remounting them:
          a remount would replace the file input while a file is being picked. */}
      {(list.length > 0 ? ["datasets", "add"] : ["add", "datasets"]).map((card) => (
        <Fragment key={card}>{card === "add" ? addCard : datasetsCard}</Fragment>
      ))}
    </>
  );
}

/** True for errors that mean "this dataset is gone" rather than "try again". */
export function isMissing(error: unknown): boolean {
  return error instanceof ApiRequestError && error.status === 404;
}
