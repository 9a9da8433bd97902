/** Terminal output helpers for the CLI: aligned tables, numbers, a progress bar. */

export function table(rows: readonly (readonly string[])[], header?: readonly string[]): string {
  const all = header ? [header, ...rows] : [...rows];
  const widths: number[] = [];
  for (const row of all) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const out = all.map(line);
  if (header) out.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return out.join("\n");
}

export function formatNumber(value: unknown): string {
  if (typeof value !== "number") return value === undefined || value === null ? "" : String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e7)) return value.toExponential(3);
  return value.toFixed(abs < 10 ? 4 : 2);
}

/** A one-line progress bar that redraws in place on a TTY and prints milestones otherwise. */
export class ProgressBar {
  private lastPrinted = -1;
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {}

  update(fraction: number, label: string): void {
    const f = Math.max(0, Math.min(1, fraction));
    const filled = Math.round(f * this.width);
    const bar = `[${"#".repeat(filled)}${"-".repeat(this.width - filled)}] ${String(Math.round(f * 100)).padStart(3)}%  ${label}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${bar.slice(0, (this.stream.columns ?? 120) - 1)}\x1b[K`);
    } else {
      const step = Math.floor(f * 10);
      if (step !== this.lastPrinted) {
        this.lastPrinted = step;
        this.stream.write(`${bar}\n`);
      }
    }
  }

  done(): void {
    if (this.stream.isTTY) this.stream.write("\n");
  }
}
