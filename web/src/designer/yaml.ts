/**
 * The spec as YAML, both ways, with the `yaml` package: written in the document's own key
 * order (the graph writes it in a stable one), read back with the line of the first error, and
 * a JSON Pointer found in the text so a problem can name its line.
 */
import { isMap, isScalar, LineCounter, type Node, parseDocument, stringify } from "yaml";
import { pointerSegments } from "../../../src/spec/spec-problems.ts";

export function specToYaml(document: unknown): string {
  return stringify(document, { indent: 2, lineWidth: 0, aliasDuplicateObjects: false });
}

export type YamlResult =
  | { readonly ok: true; readonly document: Record<string, unknown> }
  | { readonly ok: false; readonly message: string; readonly line: number };

/** Read YAML (JSON is YAML too). An error names its line, 1-based. */
export function yamlToSpec(text: string): YamlResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const error = doc.errors[0];
  if (error) {
    const line = error.linePos?.[0].line ?? lines.linePos(error.pos[0]).line;
    return { ok: false, message: firstSentence(error.message), line };
  }
  if (!isMap(doc.contents)) {
    const at = doc.contents?.range?.[0];
    return {
      ok: false,
      message: "The spec must be a map of fields: apiVersion, kind, name, steps",
      line: at === undefined ? 1 : lines.linePos(at).line,
    };
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  return { ok: true, document: value as Record<string, unknown> };
}

function firstSentence(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "").trim();
}

/**
 * The line of the value at `pointer` (`/steps/2/with/maxRows`), or of the nearest part of it
 * that exists (a missing setting points at its step's `with`, or the step).
 */
export function lineOfPath(text: string, pointer: string): number | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) return undefined;
  const segments = pointerSegments(pointer).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  for (let n = segments.length; n >= 0; n--) {
    const path = segments.slice(0, n);
    const node = (n === 0 ? doc.contents : doc.getIn(path, true)) as Node | null | undefined;
    const start = node?.range?.[0];
    if (start === undefined) continue;
    // A map value starts on the line after its key; point at the key instead.
    if (n > 0 && !isScalar(node)) {
      const key = keyLine(doc.getIn(path.slice(0, -1), true), path[n - 1], lines);
      if (key !== undefined) return key;
    }
    return lines.linePos(start).line;
  }
  return undefined;
}

function keyLine(parent: unknown, key: unknown, lines: LineCounter): number | undefined {
  if (!isMap(parent)) return undefined;
  for (const pair of parent.items) {
    if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
      return lines.linePos(pair.key.range[0]).line;
    }
  }
  return undefined;
}
