/**
 * One dataset: its columns with the inferred type (changeable) and a profile of each, a preview
 * of its rows, and the build panel that turns it into a model.
 */
import { useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { seg, unwrap } from "../api/client.ts";
import type {
  ColumnProfile,
  ColumnSchema,
  ColumnTypeChoice,
  DatasetDto,
  DatasetRowsDto,
} from "../api/types.ts";
import { Histogram } from "../charts/lazy.tsx";
import { Bars } from "../components/bars.tsx";
import {
  Button,
  ButtonLink,
  Card,
  ConfirmDialog,
  EmptyState,
  ErrorBanner,
  Loading,
  PageHeader,
  TabPanel,
  Tabs,
} from "../components/ui.tsx";
import {
  formatBytes,
  formatInteger,
  formatNumber,
  formatPercent,
  formatWhen,
  TYPE_LABELS,
} from "../lib/format.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";
import { BuildPanel } from "./build-panel.tsx";
import { isMissing } from "./data-page.tsx";

/** Types a person can choose; "id" is only ever inferred (and shown, not offered). */
const EDITABLE_TYPES: readonly ColumnTypeChoice[] = [
  "number",
  "category",
  "boolean",
  "datetime",
  "text",
];

const TABS = [
  { id: "columns", label: "Columns" },
  { id: "preview", label: "Preview" },
  { id: "build", label: "Predict" },
] as const;

export function DatasetPage() {
  const { name = "" } = useParams();
  const api = useApi();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const tab = TABS.some((t) => t.id === params.get("tab"))
    ? (params.get("tab") as string)
    : "columns";
  const dataset = useResource(
    async (signal) =>
      unwrap<DatasetDto>(await api.get(`/v1/datasets/${seg(name)}`, signal), "dataset"),
    [api, name],
  );
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>();

  const setTab = (id: string) => {
    const next = new URLSearchParams(params);
    next.set("tab", id);
    setParams(next, { replace: true });
  };

  if (dataset.loading && !dataset.data) return <Loading label="Loading the dataset…" />;
  if (dataset.error || !dataset.data) {
    return isMissing(dataset.error) ? (
      <EmptyState
        title={`There is no dataset named ${name}`}
        action={
          <ButtonLink to="/data" variant="primary">
            Back to data
          </ButtonLink>
        }
      >
        It may have been deleted.
      </EmptyState>
    ) : (
      <ErrorBanner
        title="Could not load the dataset"
        error={dataset.error}
        onRetry={dataset.reload}
      />
    );
  }
  const d = dataset.data;

  const remove = async () => {
    setDeleting(true);
    setDeleteError(undefined);
    try {
      await api.delete(`/v1/datasets/${seg(d.name)}`);
      navigate("/data");
    } catch (error) {
      setDeleteError(error);
      setDeleting(false);
      setConfirmDelete(false);
    }
  };

  return (
    <>
      <PageHeader
        crumbs={[{ label: "Data", to: "/data" }]}
        title={d.name}
        subtitle={`${formatInteger(d.rowCount)} rows · ${d.columns.length} columns · ${d.format.toUpperCase()} · ${formatBytes(d.sizeBytes)} · imported ${formatWhen(d.createdAt)} from ${d.fileName}`}
        actions={
          <>
            <Button variant="ghost" onClick={() => setConfirmDelete(true)}>
              Delete
            </Button>
            {tab !== "build" ? (
              <Button variant="primary" onClick={() => setTab("build")}>
                Predict a column
              </Button>
            ) : null}
          </>
        }
      />
      {deleteError ? <ErrorBanner title="The dataset was not deleted" error={deleteError} /> : null}
      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${d.name}?`}
        confirmLabel="Delete dataset"
        danger
        busy={deleting}
        onConfirm={() => void remove()}
        onCancel={() => setConfirmDelete(false)}
      >
        The dataset and its file are removed. Models already trained on it keep working.
      </ConfirmDialog>
      <div>
        <Tabs
          tabs={TABS}
          current={tab}
          onChange={setTab}
          label="Dataset views"
          idPrefix="dataset"
        />
        <TabPanel id={tab} idPrefix="dataset">
          {tab === "columns" ? (
            <ColumnsView dataset={d} onChanged={(next) => dataset.setData(next)} />
          ) : tab === "preview" ? (
            <PreviewView dataset={d} />
          ) : (
            <BuildPanel dataset={d} initialTarget={params.get("target") ?? undefined} />
          )}
        </TabPanel>
      </div>
    </>
  );
}

function ColumnsView({
  dataset,
  onChanged,
}: {
  dataset: DatasetDto;
  onChanged: (d: DatasetDto) => void;
}) {
  const api = useApi();
  const [saving, setSaving] = useState<string>();
  const [error, setError] = useState<{ column: string; error: unknown }>();
  const profiles = new Map((dataset.profile?.columns ?? []).map((p) => [p.name, p]));

  const changeType = async (column: ColumnSchema, type: ColumnTypeChoice) => {
    setSaving(column.name);
    setError(undefined);
    try {
      const body = await api.patch<unknown>(`/v1/datasets/${seg(dataset.name)}`, {
        types: { [column.name]: type },
      });
      onChanged(unwrap<DatasetDto>(body, "dataset"));
    } catch (err) {
      setError({ column: column.name, error: err });
    } finally {
      setSaving(undefined);
    }
  };

  return (
    <Card
      title="Columns"
      description="The type Ballast inferred for each column decides how it is used. Change it where it guessed wrong: an ID-like number, a yes/no coded as 0/1."
      className="card-flush"
    >
      {error ? (
        <div style={{ padding: "0 24px" }}>
          <ErrorBanner title={`The type of ${error.column} was not changed`} error={error.error} />
        </div>
      ) : null}
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Column</th>
              <th scope="col">Type</th>
              <th scope="col" className="num">
                Missing
              </th>
              <th scope="col" className="num">
                Distinct
              </th>
              <th scope="col">Summary</th>
              <th scope="col" style={{ width: 240 }}>
                Distribution
              </th>
            </tr>
          </thead>
          <tbody>
            {dataset.columns.map((c) => {
              const p = profiles.get(c.name);
              return (
                <tr key={c.name} data-column={c.name}>
                  <th scope="row" className="row-head">
                    {c.name}
                  </th>
                  <td>
                    <div className="row" style={{ flexWrap: "nowrap", gap: 8 }}>
                      <select
                        className="select select-sm"
                        style={{ width: 140 }}
                        aria-label={`Type of ${c.name}`}
                        value={c.type}
                        disabled={saving !== undefined}
                        onChange={(e) => void changeType(c, e.target.value as ColumnTypeChoice)}
                      >
                        {c.type === "id" ? (
                          <option value="id" disabled>
                            {TYPE_LABELS.id}
                          </option>
                        ) : null}
                        {EDITABLE_TYPES.map((t) => (
                          <option key={t} value={t}>
                            {TYPE_LABELS[t]}
                          </option>
                        ))}
                      </select>
                      {saving === c.name ? (
                        <span className="spinner" role="status" aria-label="Saving" />
                      ) : null}
                    </div>
                  </td>
                  <td className="num">
                    {p ? (
                      <span className={p.missingPct > 20 ? "badge badge-amber" : undefined}>
                        {formatPercent(p.missingPct)}
                      </span>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td className="num">{p ? formatInteger(p.distinct) : "—"}</td>
                  <td className="small">{p ? <ProfileSummary profile={p} /> : "—"}</td>
                  <td>{p ? <ProfileChart profile={p} /> : null}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function ProfileSummary({ profile: p }: { profile: ColumnProfile }) {
  if (p.type === "number" && typeof p.min === "number" && typeof p.max === "number") {
    return (
      <span>
        {formatNumber(p.min)} to {formatNumber(p.max)}
        {p.mean !== undefined ? (
          <span className="muted"> · mean {formatNumber(p.mean)}</span>
        ) : null}
      </span>
    );
  }
  if (p.type === "datetime" && p.min !== undefined && p.max !== undefined) {
    const show = (v: number | string) =>
      typeof v === "number" ? new Date(v).toISOString().slice(0, 10) : String(v).slice(0, 10);
    return (
      <span>
        {show(p.min)} to {show(p.max)}
      </span>
    );
  }
  if (p.top && p.top.length > 0) {
    const first = p.top[0];
    return first ? (
      <span>
        Most often <strong>{first.value}</strong>{" "}
        <span className="muted">({formatPercent((first.count / Math.max(1, p.count)) * 100)})</span>
      </span>
    ) : null;
  }
  return <span className="muted">—</span>;
}

function ProfileChart({ profile: p }: { profile: ColumnProfile }) {
  if (p.histogram && p.histogram.counts.length > 0) {
    return (
      <figure className="chart" aria-label={`Histogram of ${p.name}`} style={{ width: 220 }}>
        <Histogram
          edges={p.histogram.edges}
          counts={p.histogram.counts}
          height={44}
          mini
          datetime={p.type === "datetime"}
        />
      </figure>
    );
  }
  if (p.top && p.top.length > 0) {
    const total = Math.max(1, p.count);
    return (
      <div style={{ width: 220 }}>
        <Bars
          mini
          max={total}
          label={`Most frequent values of ${p.name}`}
          items={p.top.slice(0, 3).map((t) => ({
            label: t.value,
            value: t.count,
            display: formatPercent((t.count / total) * 100, 0),
          }))}
        />
      </div>
    );
  }
  return null;
}

const PAGE = 50;

function PreviewView({ dataset }: { dataset: DatasetDto }) {
  const api = useApi();
  const [offset, setOffset] = useState(0);
  const rows = useResource(
    (signal) =>
      api.get<DatasetRowsDto>(
        `/v1/datasets/${seg(dataset.name)}/rows?offset=${offset}&limit=${PAGE}`,
        signal,
      ),
    [api, dataset.name, offset],
  );
  const data = rows.data;
  const columns = data?.columns ?? dataset.columns.map((c) => c.name);
  const cell = (row: DatasetRowsDto["rows"][number], i: number): unknown => row[i];

  return (
    <Card title="Preview" className="card-flush" description="The rows as Ballast read them.">
      {rows.error ? (
        <div style={{ padding: "0 24px 24px" }}>
          <ErrorBanner title="Could not load the rows" error={rows.error} onRetry={rows.reload} />
        </div>
      ) : !data ? (
        <Loading label="Loading rows…" />
      ) : data.rows.length === 0 ? (
        <EmptyState title="This dataset has no rows" />
      ) : (
        <>
          <div className="table-wrap" style={{ maxHeight: 560 }}>
            <table className="table table-compact table-data">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    #
                  </th>
                  {columns.map((c) => (
                    <th scope="col" key={c}>
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.rows.map((row, r) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional.
                  <tr key={data.offset + r}>
                    <td className="num muted">{formatInteger(data.offset + r + 1)}</td>
                    {columns.map((c, i) => {
                      const v = cell(row, i);
                      return v === null || v === undefined ? (
                        <td key={c} className="cell-missing">
                          missing
                        </td>
                      ) : (
                        <td key={c} title={String(v)}>
                          {String(v)}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="pager">
            <span aria-live="polite">
              Rows {formatInteger(data.offset + 1)}–{formatInteger(data.offset + data.rows.length)}{" "}
              of {formatInteger(data.total)}
            </span>
            <div className="row">
              {rows.loading ? <span className="spinner" aria-hidden="true" /> : null}
              <Button
                size="sm"
                disabled={offset === 0}
                onClick={() => setOffset(Math.max(0, offset - PAGE))}
              >
                Previous
              </Button>
              <Button
                size="sm"
                disabled={data.offset + data.rows.length >= data.total}
                onClick={() => setOffset(offset + PAGE)}
              >
                Next
              </Button>
            </div>
          </div>
        </>
      )}
    </Card>
  );
}
