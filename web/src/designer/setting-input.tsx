/**
 * One generated form field (settings-form.ts): the control its schema calls for, its label,
 * hint and problem. Shared by the step settings and the policies, so a step's timeout and the
 * request deadline look and behave alike. A map (the webhook's renames and defaults) is a list
 * of key → value rows that writes a map back as it is typed.
 */
import { useEffect, useState } from "react";
import { Button, Field } from "../components/ui.tsx";
import {
  inputValue,
  type MapRow,
  mapRows,
  rowsToMap,
  type SettingField,
  settingValue,
} from "./settings-form.ts";

export function SettingInput({
  field,
  value,
  error,
  onChange,
}: {
  field: SettingField;
  value: unknown;
  error: string | undefined;
  onChange(value: unknown): void;
}) {
  if (field.control === "map") {
    return <MapInput field={field} value={value} error={error} onChange={onChange} />;
  }
  const label = `${field.label}${field.required ? "" : " (optional)"}`;
  const shown =
    value === undefined && field.defaultValue !== undefined ? field.defaultValue : value;
  const placeholder =
    field.defaultValue !== undefined
      ? inputValue(field.defaultValue)
      : field.format === "uri"
        ? "https://…"
        : field.types?.includes("number")
          ? "a class, a number, true or false"
          : undefined;
  return (
    <Field label={label} hint={field.description} error={error}>
      {(id, describedBy) => {
        const common = {
          id,
          "aria-describedby": describedBy,
          "aria-invalid": error ? true : undefined,
          "data-setting": field.key,
        } as const;
        switch (field.control) {
          case "select":
            return (
              <select
                {...common}
                className="select"
                value={inputValue(shown)}
                onChange={(e) => onChange(settingValue(field, e.target.value))}
              >
                {shown === undefined ? <option value="">Choose…</option> : null}
                {field.options?.map((o) => (
                  <option key={String(o)} value={String(o)}>
                    {String(o)}
                  </option>
                ))}
              </select>
            );
          case "checkbox":
            return (
              <input
                {...common}
                type="checkbox"
                checked={shown === true}
                onChange={(e) => onChange(settingValue(field, e.target.checked))}
              />
            );
          case "number":
            return (
              <input
                {...common}
                className="input"
                type="number"
                inputMode={field.step === 1 ? "numeric" : "decimal"}
                min={field.min}
                max={field.max}
                step={field.step}
                placeholder={placeholder}
                value={inputValue(value)}
                onChange={(e) => onChange(settingValue(field, e.target.value))}
              />
            );
          default:
            return (
              <input
                {...common}
                className="input"
                type="text"
                inputMode={field.format === "uri" ? "url" : undefined}
                placeholder={placeholder}
                value={inputValue(value)}
                onChange={(e) => onChange(settingValue(field, e.target.value))}
              />
            );
        }
      }}
    </Field>
  );
}

/**
 * Key → value rows. The rows are the editor's own state (a row being typed, without its key or
 * value yet, is not in the map); they are read again from the value when it changes elsewhere
 * (the YAML), and only then.
 */
function MapInput({
  field,
  value,
  error,
  onChange,
}: {
  field: SettingField;
  value: unknown;
  error: string | undefined;
  onChange(value: unknown): void;
}) {
  const [rows, setRows] = useState<MapRow[]>(() => mapRows(value));
  const valueJson = JSON.stringify(value ?? {});
  useEffect(() => {
    setRows((current) =>
      JSON.stringify(rowsToMap(current, field)) === valueJson
        ? current
        : mapRows(JSON.parse(valueJson)),
    );
  }, [valueJson, field]);
  const update = (next: MapRow[]) => {
    setRows(next);
    const map = rowsToMap(next, field);
    // Emptied, a map the spec had stays (as {}, in its place); one it did not have stays out.
    onChange(Object.keys(map).length > 0 || value !== undefined ? map : undefined);
  };
  const keyLabel = field.keyLabel ?? "Name";
  const valueLabel = field.values?.label ?? "Value";
  return (
    <fieldset
      className="designer-map"
      data-setting={field.key}
      aria-invalid={error ? true : undefined}
    >
      <legend>{field.label} (optional)</legend>
      {field.description ? <p className="field-hint">{field.description}</p> : null}
      {rows.length === 0 ? <p className="muted small">None.</p> : null}
      <ul>
        {rows.map(([key, text], i) => (
          // Rows have no identity but their place; keys are being edited.
          // biome-ignore lint/suspicious/noArrayIndexKey: the row's position is its identity.
          <li key={i} className="designer-map-row">
            <input
              className="input"
              aria-label={`${field.label}: ${keyLabel.toLowerCase()} ${i + 1}`}
              placeholder={keyLabel}
              value={key}
              onChange={(e) => update(rows.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))}
            />
            <span aria-hidden="true">→</span>
            <input
              className="input"
              aria-label={`${field.label}: ${valueLabel.toLowerCase()} ${i + 1}`}
              placeholder={valueLabel}
              value={text}
              onChange={(e) => update(rows.map((r, j) => (j === i ? [r[0], e.target.value] : r)))}
            />
            <Button
              size="sm"
              variant="ghost"
              aria-label={`Remove ${key || `row ${i + 1}`} from ${field.label.toLowerCase()}`}
              onClick={() => update(rows.filter((_, j) => j !== i))}
            >
              Remove
            </Button>
          </li>
        ))}
      </ul>
      <div>
        <Button
          size="sm"
          aria-label={`Add a row to ${field.label.toLowerCase()}`}
          onClick={() => setRows([...rows, ["", ""]])}
        >
          Add a row
        </Button>
      </div>
      {error ? <p className="field-error">{error}</p> : null}
    </fieldset>
  );
}
