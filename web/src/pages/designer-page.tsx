/**
 * Design: the app's pipeline as a graph, a step palette, settings forms and the spec as YAML
 * (web/src/designer/). This page, React Flow and the designer load as one lazy chunk.
 */
import { useParams } from "react-router";
import { seg, unwrap } from "../api/client.ts";
import type { AppDetailDto } from "../api/types.ts";
import { Designer } from "../designer/designer.tsx";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";
import { appLoadState } from "./app-load-state.tsx";

export function DesignerPage() {
  const { app: name = "" } = useParams();
  const api = useApi();
  const app = useResource(
    async (signal) => unwrap<AppDetailDto>(await api.get(`/v1/apps/${seg(name)}`, signal), "app"),
    [api, name],
  );
  const waiting = appLoadState(name, app);
  if (waiting || !app.data) return waiting;
  const detail = app.data;
  return (
    <Designer
      // A different app (or a reload) starts a fresh editor; saving keeps the graph as it is.
      key={detail.name}
      app={detail}
      onSaved={(saved) => app.setData({ ...detail, ...saved })}
    />
  );
}
