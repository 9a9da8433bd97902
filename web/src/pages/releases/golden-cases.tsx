/**
 * The app's golden cases: inputs with the answer they must keep getting, and how strictly it is
 * matched. A person runs them on any version before promoting it (promotion runs them too),
 * sees each failure as expected against actual, and deletes a case that no longer holds. New
 * cases come from the "try it" form's "Save as golden case" button on the app's overview.
 */
import { useState } from "react";
import { Link } from "react-router";
import { seg } from "../../api/client.ts";
import { deleteGoldenCase, runGoldenSuite } from "../../api/releases.ts";
import type {
  AppVersionDto,
  EnvironmentsDto,
  GoldenCaseDto,
  GoldenRunDto,
} from "../../api/types.ts";
import { Badge, Button, Card, ConfirmDialog, ErrorBanner, Field } from "../../components/ui.tsx";
import { formatWhen } from "../../lib/format.ts";
import type { Resource } from "../../lib/use-resource.ts";
import { useApi } from "../../session/session.tsx";
import { PartView, SectionEmpty } from "../monitor/parts.tsx";
import { compactJson, matchWords, sourceLabel } from "./releases-data.ts";

export function GoldenCases({
  app,
  cases,
  versions,
  environments,
}: {
  app: string;
  cases: Resource<readonly GoldenCaseDto[]>;
  versions: readonly AppVersionDto[];
  environments: EnvironmentsDto | undefined;
}) {
  const api = useApi();
  const preferred = environments?.staging?.version ?? environments?.production?.version;
  const [version, setVersion] = useState<string>(preferred !== undefined ? String(preferred) : "");
  const [run, setRun] = useState<GoldenRunDto>();
  const [running, setRunning] = useState(false);
  const [runError, setRunError] = useState<unknown>();
  const [doomed, setDoomed] = useState<GoldenCaseDto | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>();

  const chosen = version !== "" ? version : preferred !== undefined ? String(preferred) : "";

  const runSuite = async () => {
    setRunning(true);
    setRunError(undefined);
    try {
      setRun(await runGoldenSuite(api, app, chosen === "" ? undefined : Number(chosen)));
    } catch (error) {
      setRunError(error);
    } finally {
      setRunning(false);
    }
  };

  const remove = async (c: GoldenCaseDto) => {
    setDeleting(true);
    setDeleteError(undefined);
    try {
      await deleteGoldenCase(api, app, c.id);
      if (cases.data) cases.setData(cases.data.filter((x) => x.id !== c.id));
      setDoomed(null);
    } catch (error) {
      setDeleteError(error);
      setDoomed(null);
    } finally {
      setDeleting(false);
    }
  };

  const list = cases.data ?? [];
  return (
    <Card
      id="golden"
      title="Golden cases"
      description="Inputs whose answers must not move. A version whose answers move beyond the allowed band cannot reach production."
    >
      <PartView part={{ data: cases.data, error: cases.error }} what="the golden cases">
        {() =>
          list.length === 0 ? (
            <SectionEmpty
              title="No golden cases yet"
              action={
                <Link to={`/apps/${seg(app)}`} className="btn btn-secondary btn-sm">
                  Open the try-it form
                </Link>
              }
            >
              Predict with the app&apos;s try-it form and press &quot;Save as golden case&quot;: the
              input and the answer production gives now become a case every new version is checked
              against.
            </SectionEmpty>
          ) : (
            <>
              <div className="row" style={{ alignItems: "flex-end" }}>
                <Field label="Run on version">
                  {(id) => (
                    <select
                      id={id}
                      className="select"
                      style={{ width: 220 }}
                      value={chosen}
                      onChange={(e) => setVersion(e.target.value)}
                    >
                      {chosen === "" ? <option value="">The server's choice</option> : null}
                      {versions.map((v) => (
                        <option key={v.version} value={String(v.version)}>
                          v{v.version}
                          {environments?.production?.version === v.version ? " (production)" : ""}
                          {environments?.staging?.version === v.version ? " (staging)" : ""}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
                <Button variant="primary" onClick={() => void runSuite()} loading={running}>
                  Run {list.length} golden case{list.length === 1 ? "" : "s"}
                </Button>
              </div>
              {runError ? <ErrorBanner title="The suite did not run" error={runError} /> : null}
              {run ? <RunResult run={run} cases={list} /> : null}
              {deleteError ? (
                <ErrorBanner title="The case was not deleted" error={deleteError} />
              ) : null}
              <div className="table-wrap">
                <table
                  className="table table-compact"
                  aria-label="Golden cases"
                  data-testid="golden-cases"
                >
                  <thead>
                    <tr>
                      <th scope="col">Case</th>
                      <th scope="col">Input</th>
                      <th scope="col">Expected</th>
                      <th scope="col">Matched</th>
                      <th scope="col">From</th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((c) => (
                      <tr key={c.id}>
                        <th scope="row" className="row-head">
                          {c.name}
                          <div className="muted small">{formatWhen(c.createdAt)}</div>
                        </th>
                        <td className="mono small json-cell" title={JSON.stringify(c.input)}>
                          {compactJson(c.input, 80)}
                        </td>
                        <td className="mono small json-cell" title={JSON.stringify(c.expected)}>
                          {compactJson(c.expected, 60)}
                        </td>
                        <td className="small">{matchWords(c.match)}</td>
                        <td>
                          <Badge>{sourceLabel(c.source)}</Badge>
                        </td>
                        <td className="num">
                          <Button
                            size="sm"
                            variant="ghost"
                            aria-label={`Delete golden case ${c.name}`}
                            onClick={() => setDoomed(c)}
                          >
                            Delete
                          </Button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )
        }
      </PartView>
      <ConfirmDialog
        open={doomed !== null}
        title={`Delete the golden case ${doomed?.name ?? ""}?`}
        confirmLabel="Delete"
        danger
        busy={deleting}
        onConfirm={() => {
          if (doomed) void remove(doomed);
        }}
        onCancel={() => setDoomed(null)}
      >
        New versions will no longer be checked against it.
      </ConfirmDialog>
    </Card>
  );
}

/** A run's summary and each failure as expected against actual. */
function RunResult({ run, cases }: { run: GoldenRunDto; cases: readonly GoldenCaseDto[] }) {
  const nameOf = (key: string) => cases.find((c) => c.id === key || c.name === key)?.name ?? key;
  const failed = run.results.filter((r) => !r.passed);
  return (
    <section
      className={`banner ${run.ok ? "banner-success" : "banner-error"}`}
      aria-label="Golden suite result"
      data-testid="golden-run"
    >
      <div className="banner-body stack" style={{ gap: 8 }}>
        <strong className="banner-title">
          {run.ok
            ? `All ${run.total} golden case${run.total === 1 ? "" : "s"} passed on v${run.version}`
            : `${run.failed} of ${run.total} golden case${run.total === 1 ? "" : "s"} failed on v${run.version}`}
        </strong>
        {failed.length > 0 ? (
          <table className="table table-compact" aria-label="Failed golden cases">
            <thead>
              <tr>
                <th scope="col">Case</th>
                <th scope="col">Field</th>
                <th scope="col">Expected</th>
                <th scope="col">Actual</th>
              </tr>
            </thead>
            <tbody>
              {failed.flatMap((r) =>
                r.failures.length === 0
                  ? [
                      <tr key={r.case}>
                        <th scope="row" className="row-head">
                          {nameOf(r.case)}
                        </th>
                        <td colSpan={3}>{r.error ?? "failed"}</td>
                      </tr>,
                    ]
                  : r.failures.map((f, i) => (
                      // biome-ignore lint/suspicious/noArrayIndexKey: failures of one case have no id.
                      <tr key={`${r.case}-${i}`} title={f.message}>
                        <th scope="row" className="row-head">
                          {nameOf(r.case)}
                        </th>
                        <td className="mono small">{f.field || "(answer)"}</td>
                        <td className="mono small">{compactJson(f.expected, 60)}</td>
                        <td className="mono small">{compactJson(f.actual, 60)}</td>
                      </tr>
                    )),
              )}
            </tbody>
          </table>
        ) : null}
      </div>
    </section>
  );
}
