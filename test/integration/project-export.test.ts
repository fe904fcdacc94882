import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImportEventsDocument,
  ProjectDocument,
  ProjectEventPageDocument,
  PublishDataDocument,
  RegisterAgentDocument,
  StateAtDocument,
  TopKeysDocument,
  UpdatesByHourDocument,
  type StreamEventFieldsFragment,
  type StreamEventInput,
} from '../generated/graphql.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';
import { signToken } from '../support/tokens.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function published(ms: number, n: number, dataKey: string, value: unknown, description: string | null = null): StreamEventInput {
  return { sequence: `${ms}-${n}`, eventType: 'data_published', timestamp: iso(ms), data: { dataKey, data: value, description } };
}

/** A stream of `count` events over a few keys, some sharing a millisecond, with agent registrations among them. */
function history(count: number, base: number): StreamEventInput[] {
  const keys = ['alpha', 'beta', 'gamma', 'delta'];
  return Array.from({ length: count }, (_, i) => {
    const ms = base + Math.floor(i / 3) * 1000;
    if (i % 50 === 7) {
      return { sequence: `${ms}-${i % 3}`, eventType: 'agent_registered', timestamp: iso(ms), data: { agentId: `agent-${i}`, dataNeeds: ['alpha'], lastSeenSequence: '0', matchedKeys: ['alpha'] } };
    }
    return published(ms, i % 3, keys[(i * 7) % 4]!, { i, text: `value ${i} — ü` }, i % 4 === 0 ? null : `about ${keys[(i * 7) % 4]}`);
  });
}

/** What a GET of the export answers: status, headers and the parsed lines. */
async function download(gateway: TestGateway, projectId: string, authorization?: string) {
  const url = gateway.url.replace(/\/graphql$/, `/export/projects/${encodeURIComponent(projectId)}.ndjson`);
  const response = await fetch(url, { headers: authorization ? { authorization } : {} });
  const text = await response.text();
  const lines = response.status === 200 ? text.split('\n') : [];
  return { status: response.status, headers: response.headers, text, lines };
}

/** Runs the transfer script as an operator would, bounded in time. */
function transfer(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'project:transfer', '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`transfer did not finish within 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Section 2 of the contract, export and import: `GET /export/projects/{id}.ndjson` (lines, order, every auth
 * case), an export → importEvents round trip between two gateways, and the `project:transfer` script.
 */
describe('project export and transfer', () => {
  let source: TestGateway;
  let target: TestGateway;
  let admin: string;
  let ingest: string;
  let targetIngest: string;

  beforeAll(async () => {
    [source, target] = await Promise.all([startGateway(), startGateway()]);
    admin = await source.token({ sub: 'px-admin', roles: ['admin'] });
    ingest = await source.token({ sub: 'px-ingest', roles: ['ingest'] });
    targetIngest = await target.token({ sub: 'px-target-ingest', roles: ['ingest'] });
  });
  afterAll(async () => {
    await Promise.all([source?.close(), target?.close()]);
  });

  async function importAll(gateway: TestGateway, projectId: string, events: StreamEventInput[], token: string) {
    let imported = 0;
    let skipped = 0;
    for (let i = 0; i < events.length; i += 1000) {
      const result = dataOf(await gateway.execute(ImportEventsDocument, { projectId, events: events.slice(i, i + 1000) }, token)).importEvents;
      imported += result.importedCount;
      skipped += result.skippedCount;
    }
    return { imported, skipped };
  }
  async function allEvents(gateway: TestGateway, id: string, token: string): Promise<StreamEventFieldsFragment[]> {
    const events: StreamEventFieldsFragment[] = [];
    let since = '0';
    for (let pages = 0; pages < 50; pages += 1) {
      const page = dataOf(await gateway.execute(ProjectEventPageDocument, { id, since, first: 1000 }, token)).project!.events;
      events.push(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasNextPage) return events;
      since = page.pageInfo.endCursor!;
    }
    throw new Error('events pagination does not end');
  }
  /** A project with imported history (several export pages long) and live writes on top. */
  async function seed(id: string, count: number) {
    const base = Math.floor((Date.now() - 20 * HOUR) / 1000) * 1000;
    await importAll(source, id, history(count, base), ingest);
    for (let i = 0; i < 3; i += 1) dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: `live${i % 2}`, data: { i } }, ingest));
    dataOf(await source.execute(RegisterAgentDocument, { projectId: id, agentId: 'agent-live', dataNeeds: ['alpha', 'live0'] }, ingest));
    return allEvents(source, id, admin);
  }
  /** Everything the API says about a project, for comparing two copies. */
  async function everything(gateway: TestGateway, id: string, token: string, events: StreamEventFieldsFragment[]) {
    const picks = [0, 1, Math.floor(events.length / 3), Math.floor(events.length / 2), events.length - 5, events.length - 1].map((i) => events[i]!);
    const from = iso(Math.floor(Date.parse(events[0]!.timestamp) / HOUR) * HOUR);
    return {
      project: dataOf(await gateway.execute(ProjectDocument, { id }, token)).project,
      events: await allEvents(gateway, id, token),
      now: dataOf(await gateway.execute(StateAtDocument, { id }, token)).project!.stateAt,
      bySequence: await Promise.all(picks.map(async (e) => dataOf(await gateway.execute(StateAtDocument, { id, sequence: e.sequence }, token)).project!.stateAt)),
      byTime: await Promise.all(picks.map(async (e) => dataOf(await gateway.execute(StateAtDocument, { id, at: e.timestamp }, token)).project!.stateAt)),
      topKeys: dataOf(await gateway.execute(TopKeysDocument, { id, limit: 100 }, token)).project!.topKeys,
      hours: dataOf(await gateway.execute(UpdatesByHourDocument, { id, from, to: iso(Date.now()) }, token)).project!.updatesByHour,
    };
  }
  const asInput = ({ sequence, eventType, data, timestamp }: StreamEventFieldsFragment): StreamEventInput => ({ sequence, eventType, data, timestamp });

  it('streams every event as one JSON line {sequence, projectId, eventType, data, timestamp}, oldest first', async () => {
    const id = 'px-lines';
    // More than one internal page of the export (and of the events connection).
    const events = await seed(id, 1203);
    expect(events).toHaveLength(1207);

    const { status, headers, text, lines } = await download(source, id, `Bearer ${admin}`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/ndjson/);
    // Streamed as it is read: no length known in advance.
    expect(headers.get('content-length')).toBeNull();
    expect(text.endsWith('\n')).toBe(true);
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(events.length);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    // Exactly the five fields, equal to what the API reports, in the same order.
    expect(parsed).toEqual(events);
    expect(parsed.every((p) => Object.keys(p).sort().join() === 'data,eventType,projectId,sequence,timestamp')).toBe(true);
    // An empty export line set is impossible: a project without events is unknown.
    expect((await download(source, 'px-lines-nothing', `Bearer ${admin}`)).status).toBe(404);
  });

  it('answers 401 without or with a bad token, 403 to a token that may not read the project, 404 for an unknown project', async () => {
    const id = 'px-auth';
    dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: 'k', data: 1 }, ingest));
    dataOf(await source.execute(PublishDataDocument, { projectId: 'px-auth-other', dataKey: 'k', data: 2 }, ingest));
    const bearer = async (claims: Parameters<TestGateway['token']>[0]) => `Bearer ${await source.token(claims)}`;

    const cases: [string, string | undefined, number][] = [
      ['no token', undefined, 401],
      ['garbage', 'Bearer not-a-jwt', 401],
      ['not a bearer', `Basic ${Buffer.from('a:b').toString('base64')}`, 401],
      ['expired', await bearer({ sub: 'px-expired', roles: ['admin'], expiresIn: -60 }), 401],
      ['wrong secret', `Bearer ${await signToken({ sub: 'px-forged', roles: ['admin'] }, 'another-secret-that-is-at-least-32-characters')}`, 401],
      ['other project', await bearer({ sub: 'px-other', projects: ['px-auth-other'] }), 403],
      ['no projects', await bearer({ sub: 'px-none' }), 403],
      ['named', await bearer({ sub: 'px-named', projects: [id] }), 200],
      ['star', await bearer({ sub: 'px-star', projects: '*' }), 200],
      ['ingest', `Bearer ${ingest}`, 200],
      ['admin', `Bearer ${admin}`, 200],
    ];
    for (const [who, authorization, expected] of cases) {
      const answer = await download(source, id, authorization);
      expect(answer.status, who).toBe(expected);
      if (expected === 200) {
        expect(answer.lines.filter(Boolean).map((line) => JSON.parse(line).data.data), who).toEqual([1]);
      } else {
        // Refusals carry nothing of the project.
        expect(answer.text, who).not.toContain('"sequence"');
      }
    }
    expect((await download(source, 'px-auth-unknown', `Bearer ${admin}`)).status).toBe(404);
    expect((await download(source, 'px-auth-unknown', await bearer({ sub: 'px-reader', projects: ['px-auth-unknown'] }))).status).toBe(404);
    expect((await download(source, 'px-auth-unknown', undefined)).status).toBe(401);
  });

  it('exports projects whose id needs escaping in a URL, and answers a bad escape with a 4xx', async () => {
    const id = 'px esc/ü?#%';
    const event = dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: 'k', data: 'escaped' }, ingest)).publishData;
    const answer = await download(source, id, `Bearer ${admin}`);
    expect(answer.status).toBe(200);
    expect(answer.lines.filter(Boolean).map((line) => JSON.parse(line))).toEqual([event]);

    const broken = await fetch(source.url.replace(/\/graphql$/, '/export/projects/%E0%A4%A.ndjson'), { headers: { authorization: `Bearer ${admin}` } }).then(
      (response) => response.status,
      (error: unknown) => `no answer: ${String(error)}`,
    );
    expect([400, 404]).toContain(broken);
  });

  it('round-trips through importEvents on another gateway: identical events, state and figures', async () => {
    const id = 'px-round';
    const events = await seed(id, 1500);
    const { lines } = await download(source, id, `Bearer ${admin}`);
    const exported = lines.filter(Boolean).map((line) => JSON.parse(line) as StreamEventFieldsFragment);
    expect(exported).toHaveLength(events.length);

    expect(await importAll(target, id, exported.map(asInput), targetIngest)).toEqual({ imported: events.length, skipped: 0 });
    const original = await everything(source, id, admin, events);
    const copy = await everything(target, id, targetIngest, events);
    expect(copy.events).toEqual(events);
    expect(copy).toEqual(original);
    expect(copy.now.length).toBeGreaterThan(0);

    // Importing the same export again changes nothing.
    expect(await importAll(target, id, exported.map(asInput), targetIngest)).toEqual({ imported: 0, skipped: events.length });
    expect(await everything(target, id, targetIngest, events)).toEqual(original);
    // The copy exports the same lines, and keeps growing after the original's last sequence.
    expect((await download(target, id, `Bearer ${targetIngest}`)).lines).toEqual(lines);
    const next = dataOf(await target.execute(PublishDataDocument, { projectId: id, dataKey: 'after', data: true }, targetIngest)).publishData;
    const [lastMs, lastN] = events.at(-1)!.sequence.split('-').map(Number) as [number, number];
    const [nextMs, nextN] = next.sequence.split('-').map(Number) as [number, number];
    expect(nextMs > lastMs || (nextMs === lastMs && nextN > lastN)).toBe(true);
  });

  it('copies a project between two running gateways with npm run project:transfer, resumably', async () => {
    const id = 'px-transfer';
    const events = await seed(id, 640);
    const reader = await source.token({ sub: 'px-transfer-reader', projects: [id] });
    const args = ['--from', source.url, '--to', target.url, '--project', id];

    const first = await transfer(args, { FROM_TOKEN: reader, TO_TOKEN: targetIngest });
    expect(first.code, first.stderr).toBe(0);
    expect(await allEvents(target, id, targetIngest)).toEqual(events);
    expect(await everything(target, id, targetIngest, events)).toEqual(await everything(source, id, admin, events));

    // Run again after more writes: only the new events are copied; the rest are skipped.
    const more = [
      dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: 'alpha', data: 'newer', description: 'fresh' }, ingest)).publishData,
      dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: 'omega', data: 'new key' }, ingest)).publishData,
    ];
    const second = await transfer(args, { FROM_TOKEN: reader, TO_TOKEN: targetIngest });
    expect(second.code, second.stderr).toBe(0);
    const all = [...events, ...more];
    expect(await allEvents(target, id, targetIngest)).toEqual(all);
    expect(await everything(target, id, targetIngest, all)).toEqual(await everything(source, id, admin, all));
  });

  it('transfers large events in requests under the body limit, splitting further for a target that takes less', async () => {
    const id = 'px-transfer-large';
    // 24 events of ~60 KB: about 1.4 MB together, more than one request may carry (1 MiB by default).
    const big = (i: number) => ({ i, text: `${i}:`.padEnd(60_000, 'x') });
    for (let i = 0; i < 24; i += 1) dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: `big${i % 3}`, data: big(i) }, ingest));
    const events = await allEvents(source, id, admin);
    const args = ['--from', source.url, '--to', target.url, '--project', id];
    const run = await transfer(args, { FROM_TOKEN: admin, TO_TOKEN: targetIngest });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1)!)).toEqual({ project: id, imported: 24, skipped: 0 });
    expect(await allEvents(target, id, targetIngest)).toEqual(events);

    // A target that takes at most 100 KB per request: batches are split until each fits.
    const small = await startGateway({ MAX_BODY_BYTES: String(100 * 1024) });
    try {
      const smallIngest = await small.token({ sub: 'px-small-ingest', roles: ['ingest'] });
      const copied = await transfer(['--from', source.url, '--to', small.url, '--project', id], { FROM_TOKEN: admin, TO_TOKEN: smallIngest });
      expect(copied.code, copied.stderr).toBe(0);
      expect(await allEvents(small, id, smallIngest)).toEqual(events);
    } finally {
      await small.close();
    }
  });

  it('fails clearly on an event larger than the target accepts, keeping what came before it', async () => {
    const id = 'px-transfer-too-large';
    const before = [];
    for (let i = 0; i < 3; i += 1) before.push(dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: 'k', data: { i } }, ingest)).publishData);
    const huge = dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: 'huge', data: 'x'.repeat(150_000) }, ingest)).publishData;
    dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: 'k', data: { after: true } }, ingest));

    const small = await startGateway({ MAX_BODY_BYTES: String(100 * 1024) });
    try {
      const smallIngest = await small.token({ sub: 'px-small-ingest', roles: ['ingest'] });
      const run = await transfer(['--from', source.url, '--to', small.url, '--project', id], { FROM_TOKEN: admin, TO_TOKEN: smallIngest });
      expect(run.code, run.stdout).not.toBe(0);
      expect(run.stderr).toContain(`event ${huge.sequence}`);
      expect(run.stderr).toContain('MAX_BODY_BYTES');
      // Everything before the oversized event was copied; a rerun against a larger limit resumes from there.
      expect(await allEvents(small, id, smallIngest)).toEqual(before);
    } finally {
      await small.close();
    }
  });

  it('fails the transfer, copying nothing, when a token may not export or import', async () => {
    const id = 'px-transfer-denied';
    dataOf(await source.execute(PublishDataDocument, { projectId: id, dataKey: 'k', data: 1 }, ingest));
    const args = ['--from', source.url, '--to', target.url, '--project', id];
    const outsider = await source.token({ sub: 'px-outsider', projects: ['px-elsewhere'] });
    // A reader of the target project may not write to it.
    const targetReader = await target.token({ sub: 'px-target-reader', projects: [id] });

    const runs: [string, string, string][] = [
      ['source refuses', outsider, targetIngest],
      ['no source token', '', targetIngest],
      ['target refuses', ingest, targetReader],
    ];
    for (const [why, fromToken, toToken] of runs) {
      const run = await transfer(args, { FROM_TOKEN: fromToken, TO_TOKEN: toToken });
      expect(run.code, `${why}: ${run.stdout}${run.stderr}`).not.toBe(0);
      const result = await target.execute(ProjectDocument, { id }, targetIngest);
      expect(codesOf(result), why).toEqual([]);
      expect(result.data?.project, why).toBeNull();
    }
  });
});
