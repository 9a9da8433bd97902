/**
 * Importing a file as a dataset: pick a free name, send the bytes with progress, and hand back
 * the dataset the server registered (or the API's error, which names the line or column).
 */
import { type ApiClient, seg, unwrap } from "../api/client.ts";
import type { DatasetDto } from "../api/types.ts";
import { datasetNameFromFile, formatFromFileName, uniqueName } from "../lib/format.ts";

export type UploadPhase =
  | { readonly kind: "sending"; readonly fileName: string; readonly fraction: number }
  | { readonly kind: "reading"; readonly fileName: string };

export async function importFile(
  api: ApiClient,
  file: File,
  takenNames: ReadonlySet<string>,
  onPhase: (phase: UploadPhase) => void,
  signal?: AbortSignal,
): Promise<DatasetDto> {
  const name = uniqueName(datasetNameFromFile(file.name), takenNames);
  const format = formatFromFileName(file.name);
  const query = new URLSearchParams({ name, filename: file.name });
  if (format) query.set("format", format);
  onPhase({ kind: "sending", fileName: file.name, fraction: 0 });
  const body = await api.upload<unknown>(
    `/v1/datasets?${query}`,
    file,
    ({ loaded, total }) => {
      const fraction = total > 0 ? loaded / total : 0;
      onPhase(
        fraction >= 1
          ? { kind: "reading", fileName: file.name }
          : { kind: "sending", fileName: file.name, fraction },
      );
    },
    signal,
  );
  return unwrap<DatasetDto>(body, "dataset");
}

export async function fetchSample(name: string, signal?: AbortSignal): Promise<File> {
  const response = await fetch(`/studio/samples/${seg(name)}`, signal ? { signal } : {});
  if (!response.ok)
    throw new Error(`The sample ${name} could not be loaded (HTTP ${response.status})`);
  const blob = await response.blob();
  return new File([blob], name, { type: blob.type });
}
