import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { freshDatabase, testProvider } from '../support/databases.js';
import { spawnGateway, stopProcess, type GatewayProcess } from '../support/process.js';
import { seededRandom } from '../support/random.js';
import { signToken, TEST_JWT_SECRET } from '../support/tokens.js';

/**
 * Durability: a gateway killed with SIGKILL at a (seeded) random moment in the middle of an ingest loop loses no
 * acknowledged write, and a client that retries its unanswered requests with the same clientEventId after the
 * restart ends up with every update stored exactly once.
 */

const SEED = Number(process.env.CRASH_SEED ?? 20_261_122);
const PERSON = 'crash-person';
const SESSIONS = ['s0', 's1', 's2'];
const WORKERS = 4;


const UPDATE = `mutation ($input: UpdateContextInput!) { updateContext(input: $input) { duplicate trace { id sessionId } } }`;

interface Request {
  seq: number;
  sessionId: string;
  clientEventId: string;
}

async function post(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { message: string }[] } };
}

const send = (url: string, token: string, request: Request) =>
  post(url, token, UPDATE, {
    input: {
      personId: PERSON,
      sessionId: request.sessionId,
      clientEventId: request.clientEventId,
      sources: [{ source: 'sensor', data: { seq: request.seq, [`k${request.seq % 7}`]: request.seq } }],
    },
  });

describe('crash durability (kill -9 during ingest)', () => {
  let database: { url: string; drop(): Promise<void> };
  let gateway: GatewayProcess | undefined;
  let ingest: string;
  let admin: string;
  const env = () => ({ DATABASE_URL: database.url, JWT_SECRET: TEST_JWT_SECRET, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' });

  beforeAll(async () => {
    database = await freshDatabase();
    ingest = await signToken({ sub: 'ingest-service', roles: ['ingest'] });
    admin = await signToken({ sub: 'root', roles: ['admin'] });
  });
  afterAll(async () => {
    if (gateway) await stopProcess(gateway, 'SIGKILL');
    await database?.drop();
  });

  it(`keeps every acknowledged trace across SIGKILL, and retries store each update once (seed ${SEED})`, async () => {
    const rand = seededRandom(SEED + (testProvider() === 'postgresql' ? 1 : 0));
    const requests: Request[] = [];
    const acknowledged = new Map<number, string>(); // seq -> trace id
    const unanswered = new Set<number>();
    let next = 0;
    const newRequest = (): Request => {
      const seq = next++;
      const request = { seq, sessionId: SESSIONS[seq % SESSIONS.length]!, clientEventId: `crash-${seq}` };
      requests.push(request);
      return request;
    };

    for (let round = 0; round < 2; round += 1) {
      gateway = spawnGateway(env());
      const url = await gateway.ready;
      // Kill once between 20 and 80 more acknowledgements have come back, plus up to 15 ms, so the kill lands at
      // an arbitrary point of some request (parsing, in the transaction, committing, or answering).
      const killAfter = acknowledged.size + 20 + Math.floor(rand() * 60);
      const extraDelay = Math.floor(rand() * 15);
      const victim = gateway;
      let killed = false;
      const kill = () => {
        if (killed) return;
        killed = true;
        setTimeout(() => victim.child.kill('SIGKILL'), extraDelay);
      };
      const worker = async () => {
        for (;;) {
          if (victim.child.exitCode !== null || victim.child.signalCode !== null) return;
          const request = newRequest();
          try {
            const { status, body } = await send(url, ingest, request);
            const id: string | undefined = body.data?.updateContext?.trace?.id;
            if (status === 200 && id && !body.errors) {
              acknowledged.set(request.seq, id);
              if (acknowledged.size >= killAfter) kill();
            } else if (!killed) {
              throw new Error(`Update ${request.seq} failed before the kill: ${status} ${JSON.stringify(body)}`);
            } else unanswered.add(request.seq);
          } catch (error) {
            if (!killed) throw error;
            unanswered.add(request.seq); // Connection reset by the kill: the outcome is unknown to the client.
            return;
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, worker));
      const { signal } = await victim.exited;
      expect(signal).toBe('SIGKILL');
    }
    expect(acknowledged.size).toBeGreaterThanOrEqual(40);
    if (process.env.CRASH_DEBUG) console.log({ sent: requests.length, acknowledged: acknowledged.size, unanswered: unanswered.size });

    // Restart on the same database.
    gateway = spawnGateway(env());
    const url = await gateway.ready;

    // 1. Every acknowledged trace is there, by id.
    const ackedEntries = [...acknowledged.entries()];
    for (let i = 0; i < ackedEntries.length; i += 25) {
      const chunk = ackedEntries.slice(i, i + 25);
      const query = `{ ${chunk.map(([seq, id]) => `t${seq}: trace(id: ${JSON.stringify(id)}) { id sessionId eventData }`).join(' ')} }`;
      const { body } = await post(url, admin, query, {});
      expect(body.errors).toBeUndefined();
      for (const [seq, id] of chunk) {
        const trace = body.data[`t${seq}`];
        expect(trace, `acknowledged trace ${id} (seq ${seq}) lost`).not.toBeNull();
        expect(trace.eventData.sources[0].data.seq).toBe(seq);
      }
    }

    // 2. Retrying every unanswered request with its clientEventId completes the picture without duplicates.
    for (const seq of unanswered) {
      const { status, body } = await send(url, ingest, requests[seq]!);
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.errors).toBeUndefined();
    }
    // A retry of an acknowledged one is answered from the first result.
    const [firstSeq, firstId] = ackedEntries[0]!;
    const retried = await send(url, ingest, requests[firstSeq]!);
    expect(retried.body.data.updateContext).toMatchObject({ duplicate: true, trace: { id: firstId } });

    // Every trace of the person, page by page (a literal `first: 1000` would rightly exceed the cost limit).
    type Node = { id: string; sessionId: string; eventData: { sources: { data: { seq: number } }[] } };
    const nodes: Node[] = [];
    let totalCount = 0;
    for (let after: string | null = null; ; ) {
      const page = await post(
        url,
        admin,
        `query ($p: ID!, $after: String) { traces(filter: { personId: $p }, first: 100, after: $after) { totalCount nodes { id sessionId eventData } pageInfo { hasNextPage endCursor } } }`,
        { p: PERSON, after },
      );
      expect(page.body.errors).toBeUndefined();
      nodes.push(...(page.body.data.traces.nodes as Node[]));
      totalCount = page.body.data.traces.totalCount;
      if (!page.body.data.traces.pageInfo.hasNextPage) break;
      after = page.body.data.traces.pageInfo.endCursor;
    }
    const seqs = nodes.map((node) => node.eventData.sources[0]!.data.seq).sort((a, b) => a - b);
    expect(seqs, 'each update stored exactly once').toEqual(requests.map((r) => r.seq));
    expect(totalCount).toBe(requests.length);
    for (const [seq, id] of acknowledged) expect(nodes.find((node) => node.id === id)?.eventData.sources[0]?.data.seq).toBe(seq);

    // 3. Each session's traceCount equals the traces stored for it.
    for (const sessionId of SESSIONS) {
      const { body } = await post(url, admin, `query ($p: ID!, $s: ID!) { session(personId: $p, sessionId: $s) { traceCount traces(first: 1) { totalCount } } }`, {
        p: PERSON,
        s: sessionId,
      });
      expect(body.errors).toBeUndefined();
      const count = nodes.filter((node) => node.sessionId === sessionId).length;
      expect(body.data.session.traceCount, `traceCount of ${sessionId}`).toBe(count);
      expect(body.data.session.traces.totalCount).toBe(count);
    }

    if (testProvider() === 'sqlite') {
      // The live database file is in WAL mode (a read-only look from outside, while the gateway has it open).
      const file = new BetterSqlite3(database.url.slice('file:'.length), { readonly: true, fileMustExist: true });
      try {
        expect(file.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        file.close();
      }
    }
    const { code } = await stopProcess(gateway, 'SIGTERM');
    expect(code).toBe(0);
  });
});

describe('store durability settings', () => {
  it.skipIf(testProvider() !== 'sqlite')('opens SQLite with synchronous=FULL and journal_mode=WAL on the connection it writes with', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-gateway-pragmas-'));
    const store = await openDatabase({ provider: 'sqlite', url: `file:${join(dir, 'replay.db')}`, filename: join(dir, 'replay.db') });
    try {
      const [synchronous] = await store.db.$queryRawUnsafe<{ synchronous: number | bigint }[]>('PRAGMA synchronous');
      expect(Number(synchronous?.synchronous)).toBe(2); // FULL
      const [journal] = await store.db.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode');
      expect(journal?.journal_mode).toBe('wal');
      const [foreignKeys] = await store.db.$queryRawUnsafe<{ foreign_keys: number | bigint }[]>('PRAGMA foreign_keys');
      expect(Number(foreignKeys?.foreign_keys)).toBe(1);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(testProvider() !== 'postgresql')('commits synchronously on PostgreSQL', async () => {
    const database = await freshDatabase();
    const store = await openDatabase({ provider: 'postgresql', url: database.url });
    try {
      const [setting] = await store.db.$queryRawUnsafe<{ synchronous_commit: string }[]>('SHOW synchronous_commit');
      expect(setting?.synchronous_commit).toBe('on');
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
