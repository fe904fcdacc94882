// Disaster recovery: copies a project's stream from one running gateway to another, keeping every sequence.
//   npm run project:transfer -- --from http://old:4000/graphql --to http://new:4000/graphql --project my-app
// Tokens come from FROM_TOKEN and TO_TOKEN (raw JWTs; omit for a gateway in open development mode).
// Re-running it is safe: events the target already has are skipped, so an interrupted copy can simply resume.
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';

const BATCH = 500;
const IMPORT = `mutation Import($projectId: ID!, $events: [StreamEventInput!]!) {
  importEvents(projectId: $projectId, events: $events) { importedCount skippedCount lastSequence }
}`;

const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, project: { type: 'string' } } });
if (!values.from || !values.to || !values.project) {
  console.error('usage: transfer-project --from <graphql url> --to <graphql url> --project <id>');
  process.exit(2);
}
const bearer = (token: string | undefined): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

const exportUrl = new URL(`/export/projects/${encodeURIComponent(values.project)}.ndjson`, values.from);
const response = await fetch(exportUrl, { headers: bearer(process.env.FROM_TOKEN) });
if (!response.ok || !response.body) {
  console.error(`export failed: HTTP ${response.status} ${await response.text()}`);
  process.exit(1);
}

let imported = 0;
let skipped = 0;
async function send(events: unknown[]) {
  const reply = await fetch(values.to!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(process.env.TO_TOKEN) },
    body: JSON.stringify({ query: IMPORT, variables: { projectId: values.project, events } }),
  });
  const body = (await reply.json()) as { data?: { importEvents: { importedCount: number; skippedCount: number } }; errors?: unknown };
  if (!body.data) throw new Error(`import failed: ${JSON.stringify(body.errors)}`);
  imported += body.data.importEvents.importedCount;
  skipped += body.data.importEvents.skippedCount;
}

let batch: unknown[] = [];
const lines = createInterface({ input: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === '') continue;
  const { sequence, eventType, data, timestamp } = JSON.parse(line) as Record<string, unknown>;
  batch.push({ sequence, eventType, data, timestamp });
  if (batch.length === BATCH) {
    await send(batch);
    batch = [];
  }
}
if (batch.length > 0) await send(batch);
console.log(JSON.stringify({ project: values.project, imported, skipped }));
