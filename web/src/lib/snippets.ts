/**
 * Copy-ready code that calls a published app: curl, JavaScript fetch and Python requests.
 * The key is the one the person just created, or a placeholder that says what goes there.
 */
export interface SnippetInput {
  readonly url: string;
  readonly key?: string;
  readonly record: Readonly<Record<string, unknown>>;
}

export const KEY_PLACEHOLDER = "YOUR_API_KEY";

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** Python literal for a JSON value (True/False/None, not true/false/null). */
export function pythonLiteral(value: unknown, indent = 0): string {
  const pad = " ".repeat(indent + 4);
  const end = " ".repeat(indent);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "None";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => `${pad}${pythonLiteral(v, indent + 4)}`).join(",\n")},\n${end}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  return `{\n${entries
    .map(([k, v]) => `${pad}${JSON.stringify(k)}: ${pythonLiteral(v, indent + 4)}`)
    .join(",\n")},\n${end}}`;
}

export function curlSnippet({ url, key, record }: SnippetInput): string {
  return [
    `curl -s ${shellQuote(url)} \\`,
    `  -H ${shellQuote(`Authorization: Bearer ${key ?? KEY_PLACEHOLDER}`)} \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -d ${shellQuote(JSON.stringify(record))}`,
  ].join("\n");
}

export function fetchSnippet({ url, key, record }: SnippetInput): string {
  const body = JSON.stringify(record, null, 2).replace(/\n/g, "\n  ");
  return [
    `const response = await fetch(${JSON.stringify(url)}, {`,
    `  method: "POST",`,
    `  headers: {`,
    `    Authorization: ${JSON.stringify(`Bearer ${key ?? KEY_PLACEHOLDER}`)},`,
    `    "Content-Type": "application/json",`,
    `  },`,
    `  body: JSON.stringify(${body}),`,
    `});`,
    `const answer = await response.json();`,
    `console.log(answer.prediction, answer.probabilities);`,
  ].join("\n");
}

export function pythonSnippet({ url, key, record }: SnippetInput): string {
  return [
    "import requests",
    "",
    "response = requests.post(",
    `    ${JSON.stringify(url)},`,
    `    headers={"Authorization": ${JSON.stringify(`Bearer ${key ?? KEY_PLACEHOLDER}`)}},`,
    `    json=${pythonLiteral(record, 4)},`,
    "    timeout=10,",
    ")",
    "response.raise_for_status()",
    "answer = response.json()",
    'print(answer["prediction"], answer.get("probabilities"))',
  ].join("\n");
}
