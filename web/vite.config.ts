/**
 * The Studio's build: `vite build` writes dist/web (served by src/server/routes/studio.ts);
 * `npm run dev:web` serves web/ with hot reload and proxies the API to a running server
 * (BALLAST_URL, default http://127.0.0.1:7070).
 */
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const api = process.env.BALLAST_URL ?? "http://127.0.0.1:7070";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: true,
    // The chart library is a lazy chunk of its own; warn only if something larger creeps in.
    chunkSizeWarningLimit: 700,
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "/v1": { target: api, changeOrigin: true },
      "/studio": { target: api, changeOrigin: true },
      "/docs": { target: api, changeOrigin: true },
      "/openapi.json": { target: api, changeOrigin: true },
      "/healthz": { target: api, changeOrigin: true },
    },
  },
});
