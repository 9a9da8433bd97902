/**
 * The app's policies, webhook and monitoring, beside the step settings: one generated form per
 * policy group (src/spec/policies.ts), the webhook's settings with its renames and defaults as
 * key → value lists, then one form per monitoring group (src/spec/monitoring.ts: prediction
 * log, drift, service levels, alerts) and per release group (src/spec/release.ts: canary,
 * shadow, A/B). A field shows the spec's value, or the default when the spec leaves it
 * out; clearing a number goes back to the default. Problems under `/policies`, `/webhook` and
 * `/monitoring` show on the field they name.
 */
import type { SpecProblem } from "../../../src/spec/app-spec.ts";
import { MONITORING_GROUPS } from "../../../src/spec/monitoring.ts";
import { POLICY_GROUPS } from "../../../src/spec/policies.ts";
import { RELEASE_GROUPS } from "../../../src/spec/release.ts";
import type { SettingsGroup } from "../../../src/spec/settings-groups.ts";
import { webhookSettingsSchema } from "../../../src/spec/webhook.ts";
import { Card } from "../components/ui.tsx";
import { describeProblem, within } from "./problems.ts";
import { SettingInput } from "./setting-input.tsx";
import { settingFields } from "./settings-form.ts";

export interface PoliciesPanelProps {
  /** The spec's `policies`, as written (anything: it may come from the YAML). */
  readonly policies: unknown;
  /** The spec's `webhook`, as written. */
  readonly webhook: unknown;
  /** The spec's `monitoring`, as written. */
  readonly monitoring: unknown;
  /** The spec's `release`, as written. */
  readonly release: unknown;
  /** Problems whose path is under `/policies` or `/webhook`. */
  readonly problems: readonly SpecProblem[];
  onPolicy(group: string, field: string, value: unknown): void;
  onWebhook(field: string, value: unknown): void;
  onMonitoring(group: string, field: string, value: unknown): void;
  onRelease(group: string, field: string, value: unknown): void;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const child = (parent: unknown, key: string): unknown =>
  isRecord(parent) ? parent[key] : undefined;

export function PoliciesPanel({
  policies,
  webhook,
  monitoring,
  release,
  problems,
  onPolicy,
  onWebhook,
  onMonitoring,
  onRelease,
}: PoliciesPanelProps) {
  const fieldError = (prefix: string) => {
    const found = problems.filter((p) => within(p.path, prefix));
    if (found.length === 0) return undefined;
    return found
      .map((p) =>
        p.path === prefix ? p.message : `${p.path.slice(prefix.length + 1)} ${p.message}`,
      )
      .join("; ");
  };
  const known = [
    ...POLICY_GROUPS.flatMap((g) =>
      Object.keys(g.schema.properties).map((k) => `/policies/${g.key}/${k}`),
    ),
    ...Object.keys(webhookSettingsSchema.properties).map((k) => `/webhook/${k}`),
    ...MONITORING_GROUPS.flatMap((g) =>
      Object.keys(g.schema.properties).map((k) => `/monitoring/${g.key}/${k}`),
    ),
    ...RELEASE_GROUPS.flatMap((g) =>
      Object.keys(g.schema.properties).map((k) => `/release/${g.key}/${k}`),
    ),
  ];
  // Problems no field shows: a group or field the spec does not have, a section not a map.
  const others = problems.filter((p) => !known.some((k) => within(p.path, k)));
  return (
    <Card
      className="designer-settings designer-policies"
      title="Policies"
      description="What keeps this app standing under load, how it takes events, and what is watched in production. Every field has a safe default."
    >
      <div className="stack designer-form">
        {others.length > 0 ? (
          <ul className="designer-step-problems" aria-label="Problems of the policies">
            {others.map((p) => (
              <li key={`${p.path} ${p.message}`}>{describeProblem(p)}</li>
            ))}
          </ul>
        ) : null}
        {POLICY_GROUPS.map((group) => (
          <GroupFieldset
            key={group.key}
            group={group}
            section="policies"
            values={child(policies, group.key)}
            fieldError={fieldError}
            onChange={onPolicy}
          />
        ))}
        <fieldset className="designer-group" data-policy-group="webhook">
          <legend>Webhook</legend>
          <p className="field-hint">
            Events from outside systems at POST /v1/hooks/{"{app}"}: mapped onto the contract,
            validated, queued durably and processed by workers.
          </p>
          {settingFields(webhookSettingsSchema).map((f) => (
            <SettingInput
              key={f.key}
              field={f}
              value={child(webhook, f.key)}
              error={fieldError(`/webhook/${f.key}`)}
              onChange={(value) => onWebhook(f.key, value)}
            />
          ))}
        </fieldset>
        {MONITORING_GROUPS.map((group) => (
          <GroupFieldset
            key={group.key}
            group={group}
            section="monitoring"
            values={child(monitoring, group.key)}
            fieldError={fieldError}
            onChange={onMonitoring}
          />
        ))}
        {RELEASE_GROUPS.map((group) => (
          <GroupFieldset
            key={group.key}
            group={group}
            section="release"
            values={child(release, group.key)}
            fieldError={fieldError}
            onChange={onRelease}
          />
        ))}
      </div>
    </Card>
  );
}

/** One group of `policies` or `monitoring` as a fieldset of generated inputs. */
function GroupFieldset({
  group,
  section,
  values,
  fieldError,
  onChange,
}: {
  readonly group: SettingsGroup<string>;
  readonly section: "policies" | "monitoring" | "release";
  readonly values: unknown;
  readonly fieldError: (path: string) => string | undefined;
  readonly onChange: (group: string, field: string, value: unknown) => void;
}) {
  // The tests and styles find a group by `data-policy-group` / `data-monitoring-group`.
  const marker =
    section === "policies"
      ? { "data-policy-group": group.key }
      : section === "monitoring"
        ? { "data-monitoring-group": group.key }
        : { "data-release-group": group.key };
  return (
    <fieldset className="designer-group" {...marker}>
      <legend>{group.title}</legend>
      <p className="field-hint">{group.description}</p>
      {settingFields(group.schema).map((f) => (
        <SettingInput
          key={f.key}
          field={f}
          value={child(values, f.key)}
          error={fieldError(`/${section}/${group.key}/${f.key}`)}
          onChange={(value) => onChange(group.key, f.key, value)}
        />
      ))}
    </fieldset>
  );
}
