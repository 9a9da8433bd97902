import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "ballast",
          include: ["src/**/*.test.ts", "test/**/*.test.ts", "web/src/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/studio/**", "test/load/**"],
        },
      },
      {
        // Load, overload and crash tests: their figures (p99 under load, what a kill -9 leaves)
        // mean something only when nothing else competes for the CPU, so `npm test` runs this
        // project on its own after the others, one file at a time.
        extends: true,
        test: {
          name: "load",
          include: ["test/load/**/*.test.ts"],
          fileParallelism: false,
        },
      },
      {
        // Browser tests: Debian's Chromium against a real server; the global setup builds the
        // Studio first when dist/web is missing or older than web/.
        extends: true,
        test: {
          name: "studio",
          include: ["test/studio/**/*.test.ts"],
          globalSetup: ["test/studio/global-setup.ts"],
          testTimeout: 180_000,
          // Each file drives a browser and trains models: one at a time on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
});
