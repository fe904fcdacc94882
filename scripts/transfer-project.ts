// Disaster recovery: copies a project's stream from one running gateway to another, keeping every sequence.
//   npm run project:transfer -- --from http://old:4000/graphql --to http://new:4000/graphql --project my-app
// Tokens come from FROM_TOKEN and TO_TOKEN (raw JWTs; omit for a gateway in open development mode).
// Re-running it is safe: events the target already has are skipped, so an interrupted copy can simply resume.
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';

/** Events per importEvents call (the gateway takes at most 1000). */
const BATCH = 500;
/** Bytes per request body: under the gateway's default 1 MiB limit with room to spare, however large events are. */
const BATCH_BYTES = 512 * 1024;
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

/** The request body for a batch of events, already serialized one by one. */
const bodyOf = (events: readonly string[]) =>
  `{"query":${JSON.stringify(IMPORT)},"variables":{"projectId":${JSON.stringify(values.project)},"events":[${events.join(',')}]}}`;
const EMPTY_BODY_BYTES = Buffer.byteLength(bodyOf([]));

let imported = 0;
let skipped = 0;
/**
 * Imports one batch. A target with a smaller body limit than BATCH_BYTES answers 413: the batch is then sent in
 * halves (in order, so the copy stays a prefix of the source); a single event it still refuses ends the transfer.
 */
async function send(events: readonly string[], sequences: readonly string[]): Promise<void> {
  const body = bodyOf(events);
  const reply = await fetch(values.to!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(process.env.TO_TOKEN) },
    body,
  });
  if (reply.status === 413) {
    if (events.length > 1) {
      const half = Math.ceil(events.length / 2);
      await send(events.slice(0, half), sequences.slice(0, half));
      return send(events.slice(half), sequences.slice(half));
    }
    throw new Error(
      `import failed: event ${sequences[0]} alone needs a ${Buffer.byteLength(body)}-byte request, more than the target accepts ` +
        `(HTTP 413: ${await reply.text()}). Raise MAX_BODY_BYTES on the target and run the transfer again: it resumes where it stopped.`,
    );
  }
  const answer = (await reply.json().catch(() => ({}))) as { data?: { importEvents: { importedCount: number; skippedCount: number } }; errors?: unknown };
  if (!answer.data) throw new Error(`import failed (HTTP ${reply.status}, events ${sequences[0]} to ${sequences.at(-1)}): ${JSON.stringify(answer.errors)}`);
  imported += answer.data.importEvents.importedCount;
  skipped += answer.data.importEvents.skippedCount;
}

// Batches close at BATCH events or BATCH_BYTES of body, whichever comes first, so large events never add up to
// more than the target takes; an event larger than BATCH_BYTES by itself is still sent alone (the target may
// accept more) and fails clearly if it does not.
let batch: string[] = [];
let sequences: string[] = [];
let batchBytes = EMPTY_BODY_BYTES;
async function flush() {
  if (batch.length === 0) return;
  await send(batch, sequences);
  batch = [];
  sequences = [];
  batchBytes = EMPTY_BODY_BYTES;
}
try {
  const lines = createInterface({ input: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const { sequence, eventType, data, timestamp } = JSON.parse(line) as Record<string, unknown>;
    const event = JSON.stringify({ sequence, eventType, data, timestamp });
    const bytes = Buffer.byteLength(event) + 1;
    if (batch.length > 0 && (batch.length === BATCH || batchBytes + bytes > BATCH_BYTES)) await flush();
    batch.push(event);
    sequences.push(String(sequence));
    batchBytes += bytes;
  }
  await flush();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  console.error(JSON.stringify({ project: values.project, imported, skipped }));
  process.exit(1);
}
console.log(JSON.stringify({ project: values.project, imported, skipped }));
