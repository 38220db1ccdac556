// Calls Neon's TypeScript SDK (@neondatabase/api-client) for tests/compat: one SDK method per run.
//   node sdk.cjs METHOD '[arg, ...]'            -> {"status": 200, "data": {...}} on stdout
//   node sdk.cjs waitOperations PROJECT_ID      -> polls getProjectOperation for the project's in-progress
//                                                 operations until each is terminal; {"operations": [...]}
// An HTTP error prints {"status": N, "error": <body>} and exits 1; NEON_API_HOST and NEON_API_KEY configure it.
"use strict";
const { createApiClient } = require("@neondatabase/api-client");

const api = createApiClient({ apiKey: process.env.NEON_API_KEY, baseURL: process.env.NEON_API_HOST });
const TERMINAL = new Set(["finished", "skipped", "error", "cancelled", "failed"]);

async function waitOperations(projectId) {
  const deadline = Date.now() + 120000;
  const listed = await api.listProjectOperations({ projectId, limit: 100 });
  const ops = listed.data.operations;
  const done = [];
  for (const op of ops) {
    let current = op;
    while (!TERMINAL.has(current.status)) {
      if (Date.now() > deadline) throw new Error(`operation ${op.id} still ${current.status}`);
      await new Promise((r) => setTimeout(r, 100));
      current = (await api.getProjectOperation(projectId, op.id)).data.operation;
    }
    done.push(current);
  }
  return { operations: done };
}

async function main() {
  const [method, rawArgs] = process.argv.slice(2);
  if (method === "waitOperations") {
    process.stdout.write(JSON.stringify(await waitOperations(rawArgs)));
    return;
  }
  if (typeof api[method] !== "function") throw new Error(`the SDK has no method ${method}`);
  const response = await api[method](...JSON.parse(rawArgs || "[]"));
  process.stdout.write(JSON.stringify({ status: response.status, data: response.data ?? null }));
}

main().catch((err) => {
  if (err.response) {
    process.stdout.write(JSON.stringify({ status: err.response.status, error: err.response.data ?? null }));
  } else {
    process.stdout.write(JSON.stringify({ status: 0, error: String(err && err.stack ? err.stack : err) }));
  }
  process.exit(1);
});
