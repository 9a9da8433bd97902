/**
 * Service levels: what the app promises (p95 latency, error rate, availability), whether it
 * keeps it now, how much of the error budget is left and how fast it burns; the alerts firing
 * now on top of the page, and what happened lately (breaches, recoveries, rollbacks).
 */
import { seg } from "../../api/client.ts";
import type { AppSloDto, MonitorEventDto, SloStatusDto } from "../../api/types.ts";
import { Badge, ButtonLink, Card, ProgressBar } from "../../components/ui.tsx";
import { formatNumber, formatPercent, formatWhen } from "../../lib/format.ts";
import {
  burnTone,
  eventKindLabel,
  formatSloValue,
  objectiveWords,
  severityTone,
  sloStateInfo,
  sloTitle,
} from "./monitor-data.ts";
import { type Part, PartView, SectionEmpty } from "./parts.tsx";

/** The alerts firing now, above everything else: the first thing a person should see. */
export function FiringAlerts({ slo }: { slo: AppSloDto | undefined }) {
  const firing = slo?.firing ?? [];
  if (firing.length === 0) return null;
  return (
    <section className="firing" aria-labelledby="firing-heading" data-testid="firing">
      <h2 id="firing-heading" className="visually-hidden">
        Alerts firing now
      </h2>
      <ul className="firing-list">
        {firing.map((e) => (
          <li
            key={e.id}
            className={`banner ${e.severity === "critical" ? "banner-error" : "banner-warning"}`}
          >
            <div className="banner-body">
              <strong className="banner-title">
                {e.severity === "critical" ? "Critical" : "Warning"}
                {e.version !== null ? ` · version ${e.version}` : ""} · firing since{" "}
                <time dateTime={e.at} title={e.at}>
                  {formatWhen(e.at)}
                </time>
              </strong>
              <p className="banner-message">{e.message}</p>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function BurnRates({ slo }: { slo: SloStatusDto }) {
  if (slo.burnRates.length === 0) return null;
  return (
    <div className="stack" style={{ gap: 4 }}>
      <span className="muted small">Burn rate (1× = on budget)</span>
      <ul className="burn-rates" aria-label={`${sloTitle(slo.name)} burn rates`}>
        {slo.burnRates.map((b) => (
          <li key={b.window}>
            <Badge
              tone={burnTone(b.rate)}
              title={
                b.rate === null
                  ? `No requests in the last ${b.window}`
                  : `Over the last ${b.window} the error budget burned ${formatNumber(b.rate, 2)} times as fast as it lasts the whole period`
              }
            >
              {b.window} {b.rate === null ? "—" : `${formatNumber(b.rate, b.rate < 10 ? 1 : 0)}×`}
            </Badge>
          </li>
        ))}
      </ul>
    </div>
  );
}

function SloCard({ slo }: { slo: SloStatusDto }) {
  const state = sloStateInfo(slo.state);
  const budget = slo.budgetRemaining;
  return (
    <article className={`slo slo-${slo.state}`} data-testid={`slo-${slo.name}`}>
      <div className="row" style={{ justifyContent: "space-between" }}>
        <h3>{sloTitle(slo.name)}</h3>
        <Badge tone={state.tone}>{state.label}</Badge>
      </div>
      <div className="slo-value">
        {formatSloValue(slo.name, slo.current)}
        <span className="muted small"> over the last hour</span>
      </div>
      <div className="muted small">Objective: {objectiveWords(slo)}</div>
      {budget === null ? (
        <div className="muted small">No budget figure yet: no requests counted.</div>
      ) : (
        <div className="stack" style={{ gap: 4 }}>
          <ProgressBar value={Math.max(0, budget)} label={`${sloTitle(slo.name)} budget left`} />
          <span className="small">
            {budget <= 0
              ? "Error budget used up"
              : `${formatPercent(budget * 100)} of the error budget left`}
          </span>
        </div>
      )}
      <BurnRates slo={slo} />
    </article>
  );
}

function EventList({ events }: { events: readonly MonitorEventDto[] }) {
  if (events.length === 0) {
    return (
      <p className="muted">
        Nothing has happened yet. Breaches, recoveries, drift alerts and rollbacks are listed here
        as they happen.
      </p>
    );
  }
  return (
    <ol className="event-list" aria-label="Recent events">
      {events.map((e) => (
        <li key={e.id} className="event">
          <time dateTime={e.at} title={e.at} className="muted small nowrap">
            {formatWhen(e.at)}
          </time>
          <Badge tone={e.kind === "recovery" ? "green" : severityTone(e.severity)}>
            {eventKindLabel(e.kind)}
          </Badge>
          <span className="event-message">
            {e.message}
            {e.version !== null ? <span className="muted"> · version {e.version}</span> : null}
          </span>
          {e.deliveries.length > 0 ? (
            <span className="muted small nowrap">
              {e.deliveries
                .map(
                  (d) => `${d.channel === "webhook" ? "Webhook" : "Log"} ${d.ok ? "✓" : "failed"}`,
                )
                .join(" · ")}
            </span>
          ) : null}
        </li>
      ))}
    </ol>
  );
}

export function SloSection({ part, app }: { part: Part<AppSloDto> | undefined; app: string }) {
  return (
    <Card
      id="service-levels"
      title="Service levels"
      description="What the app promises its callers, and whether it keeps the promise."
    >
      <PartView part={part} what="the service levels">
        {(slo) => (
          <>
            {slo.slos.length === 0 ? (
              <SectionEmpty
                title="No service levels are set"
                action={
                  <ButtonLink to={`/apps/${seg(app)}/design`} size="sm">
                    Set them in the designer
                  </ButtonLink>
                }
              >
                Promise a response time, an error rate or an availability in the app&apos;s
                monitoring settings; the Studio then shows whether they hold and raises an alert
                when they do not.
              </SectionEmpty>
            ) : (
              <div className="slo-grid">
                {slo.slos.map((s) => (
                  <SloCard key={s.name} slo={s} />
                ))}
              </div>
            )}
            <h3>Recent events</h3>
            <EventList events={slo.events} />
          </>
        )}
      </PartView>
    </Card>
  );
}
