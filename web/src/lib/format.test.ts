import { describe, expect, it } from "vitest";
import {
  datasetNameFromFile,
  formatBytes,
  formatDuration,
  formatFromFileName,
  formatMetric,
  formatNumber,
  formatPercent,
  formatWhen,
  uniqueName,
} from "./format.ts";

describe("formatting for people", () => {
  it("numbers, percents and sizes", () => {
    expect(formatNumber(1234.5678)).toBe("1,234.57");
    expect(formatNumber(2_500_000)).toBe("2.5M");
    expect(formatNumber(0.000123)).toBe("0.00012");
    expect(formatNumber(Number.NaN)).toBe("—");
    expect(formatNumber(null)).toBe("—");
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(12.345)).toBe("12.3%");
    expect(formatPercent(0.01)).toBe("<0.1%");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(970_000)).toBe("947 KB");
    expect(formatBytes(2.5 * 1024 * 1024)).toBe("2.5 MB");
  });

  it("durations and relative times", () => {
    expect(formatDuration(450)).toBe("450 ms");
    expect(formatDuration(12_400)).toBe("12 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(formatDuration(-1)).toBe("—");
    const now = Date.parse("2025-01-10T12:00:00Z");
    expect(formatWhen("2025-01-10T11:59:30Z", now)).toBe("just now");
    expect(formatWhen("2025-01-10T11:57:00Z", now)).toBe("3 minutes ago");
    expect(formatWhen("2025-01-09T12:00:00Z", now)).toBe("1 day ago");
  });

  it("metrics by their meaning", () => {
    expect(formatMetric("accuracy", 0.8123)).toBe("81.2%");
    expect(formatMetric("auc", 0.84567)).toBe("0.846");
    expect(formatMetric("auc", undefined)).toBe("—");
    expect(formatMetric("rmse", 15938.368)).toBe("15,938");
    expect(formatMetric("mae", 12.345)).toBe("12.3");
  });

  it("names and formats from file names, as the server derives them", () => {
    expect(datasetNameFromFile("C:\\data\\My Churn (2024).csv")).toBe("My-Churn-2024-");
    expect(datasetNameFromFile("__.csv")).toBe("dataset");
    expect(uniqueName("churn", new Set(["churn", "churn-2"]))).toBe("churn-3");
    expect(uniqueName("churn", new Set())).toBe("churn");
    expect(formatFromFileName("a.PARQUET")).toBe("parquet");
    expect(formatFromFileName("a.jsonl")).toBe("ndjson");
    expect(formatFromFileName("a.xlsx")).toBeUndefined();
  });
});
