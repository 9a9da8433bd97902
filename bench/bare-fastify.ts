/**
 * The peer for `npm run bench:serve`: a bare Fastify server whose POST handler parses the JSON
 * body and returns a constant, i.e. the ceiling any Fastify route can reach on this machine.
 */
import Fastify from "fastify";

const app = Fastify({ logger: false });
const answer = { prediction: "No", probabilities: { No: 0.8, Yes: 0.2 } };
app.post("/predict", async () => answer);
const address = await app.listen({ host: "127.0.0.1", port: 0 });
process.stdout.write(`LISTENING ${address}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
