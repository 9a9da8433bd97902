/**
 * The peers for `npm run bench:serve`: a bare Fastify server whose POST handler parses the
 * JSON body and
 *
 * - returns a constant (no `BENCH_ARTIFACT`): the ceiling any Fastify route can reach on this
 *   machine;
 * - or, given `BENCH_ARTIFACT` (a Ballast model artifact file), predicts the record with the
 *   same model and the same predictor Ballast serves it with: the bare Fastify handler doing
 *   single-row churn predictions, with nothing else (no contract, no key, no policy, no metric).
 *
 * Plain JavaScript on the compiled build (`dist/`, which bench:serve builds first), run by node
 * itself as Ballast is: no TypeScript loader in either process.
 *
 * BENCH_PEER_COMPAT=1 gives the peer Ballast's Node backport too (src/server/node-compat.ts),
 * to show how much of the difference is Fastify's per-request bind on this Node.
 */
import { readFileSync } from "node:fs";
import Fastify from "fastify";
import { decodeArtifact } from "../dist/models/artifact.js";
import { Predictor } from "../dist/models/predictor.js";
import { applyNodeCompat } from "../dist/server/node-compat.js";

if (process.env.BENCH_PEER_COMPAT === "1") applyNodeCompat();

const app = Fastify({ logger: false });
const artifactFile = process.env.BENCH_ARTIFACT;
if (artifactFile) {
  const predictor = new Predictor(decodeArtifact(readFileSync(artifactFile)));
  predictor.warm();
  app.post("/predict", async (request) => predictor.predict(request.body));
} else {
  const answer = { prediction: "No", probabilities: { No: 0.8, Yes: 0.2 } };
  app.post("/predict", async () => answer);
}
const address = await app.listen({ host: "127.0.0.1", port: 0 });
process.stdout.write(`LISTENING ${address}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
