import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextAtDocument, SessionDocument, SessionsDocument, TracesDocument, UpdateContextDocument, type UpdateContextInput } from '../generated/graphql.js';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const MINUTE = 60_000;

/** Section 1 of the contract: session, sessions and contextAt (time travel), with person isolation. */
describe('sessions', () => {
  let gateway: TestGateway;
  let admin: string;
  const startedAt = Date.now();

  beforeAll(async () => {
    gateway = await startGateway();
    admin = await gateway.token({ sub: 'se-admin', roles: ['admin'] });
  });
  afterAll(() => gateway?.close());

  const tokenFor = (personId: string) => gateway.token({ sub: personId });
  const iso = (ms: number) => new Date(ms).toISOString();

  async function update(token: string, input: Omit<UpdateContextInput, 'sources'> & { data: Record<string, unknown> }) {
    const { data, ...rest } = input;
    return dataOf(await gateway.execute(UpdateContextDocument, { input: { ...rest, sources: [{ source: 'test', data }] } }, token)).updateContext;
  }

  const session = async (personId: string, sessionId: string, token: string, first?: number, after?: string) =>
    dataOf(await gateway.execute(SessionDocument, { personId, sessionId, first, after }, token)).session;

  const contextAt = async (personId: string, sessionId: string, at: number, token: string) =>
    dataOf(await gateway.execute(ContextAtDocument, { personId, sessionId, at: iso(at) }, token)).contextAt;

  describe('session(personId, sessionId)', () => {
    it('reports counts, first and last times, the current context and the traces oldest first', async () => {
      const person = 'se-one';
      const token = await tokenFor(person);
      const t0 = startedAt - 30 * MINUTE;
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const result = await update(token, { personId: person, sessionId: 's1', timestamp: iso(t0 + i * MINUTE), data: { step: i, [`k${i}`]: true } });
        ids.push(result.trace.id);
      }
      const s = await session(person, 's1', token);
      expect(s).toMatchObject({
        personId: person,
        sessionId: 's1',
        traceCount: 5,
        firstAt: iso(t0),
        lastAt: iso(t0 + 4 * MINUTE),
        context: { step: 4, k0: true, k1: true, k2: true, k3: true, k4: true },
      });
      expect(s?.traces.totalCount).toBe(5);
      expect(s?.traces.nodes.map((n) => n.id)).toEqual(ids);
      expect(s?.traces.nodes.map((n) => n.timestamp)).toEqual(ids.map((_, i) => iso(t0 + i * MINUTE)));
      expect(s?.traces.nodes[2]?.contextSnapshot).toEqual({ step: 2, k0: true, k1: true, k2: true });
      expect(s?.traces.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });

      // Pages of two: 2, 2, 1, in order, same totalCount throughout.
      const seen: string[] = [];
      const pages = [];
      let after: string | undefined;
      do {
        const page = (await session(person, 's1', token, 2, after))!.traces;
        pages.push(page);
        seen.push(...page.nodes.map((n) => n.id));
        expect(page.totalCount).toBe(5);
        after = page.pageInfo.endCursor ?? undefined;
      } while (pages.at(-1)!.pageInfo.hasNextPage && pages.length < 10);
      expect(pages.map((p) => p.nodes.length)).toEqual([2, 2, 1]);
      expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([false, true, true]);
      expect(seen).toEqual(ids);

      // A cursor of another list is refused.
      const tracesCursor = dataOf(await gateway.execute(TracesDocument, { first: 1 }, token)).traces.pageInfo.endCursor!;
      expect(codesOf(await gateway.execute(SessionDocument, { personId: person, sessionId: 's1', after: tracesCursor }, token))).toEqual([
        'BAD_USER_INPUT',
      ]);
      expect(codesOf(await gateway.execute(SessionDocument, { personId: person, sessionId: 's1', after: 'junk' }, token))).toEqual(['BAD_USER_INPUT']);
      const forged = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
      for (const after of [forged(['session-traces', 'two']), forged(['session-traces', -1]), forged(['session-traces', 1, 2])]) {
        expect(codesOf(await gateway.execute(SessionDocument, { personId: person, sessionId: 's1', after }, token)), after).toEqual(['BAD_USER_INPUT']);
      }
      expect(codesOf(await gateway.execute(SessionDocument, { personId: person, sessionId: 's1', first: 1001 }, token))).toEqual(['BAD_USER_INPUT']);
    });

    it('answers null for an unknown session, FORBIDDEN for another person’s, and lets an admin read any', async () => {
      const owner = 'se-guarded';
      const token = await tokenFor(owner);
      await update(token, { personId: owner, sessionId: 's1', data: { secret: 1 } });
      expect(await session(owner, 'nope', token)).toBeNull();

      const intruder = await tokenFor('se-intruder');
      const refused = await gateway.execute(SessionDocument, { personId: owner, sessionId: 's1' }, intruder);
      expect(codesOf(refused)).toEqual(['FORBIDDEN']);
      expect(refused.data?.session ?? null).toBeNull();
      // Unknown sessions of another person are just as forbidden: nothing can be probed.
      expect(codesOf(await gateway.execute(SessionDocument, { personId: owner, sessionId: 'nope' }, intruder))).toEqual(['FORBIDDEN']);
      expect(codesOf(await gateway.execute(SessionDocument, { personId: owner, sessionId: 's1' }, null))).toEqual(['UNAUTHENTICATED']);

      expect((await session(owner, 's1', admin))?.context).toEqual({ secret: 1 });
    });
  });

  describe('sessions(personId)', () => {
    it('lists the most recently active first, with pagination and totalCount', async () => {
      const person = 'se-many';
      const token = await tokenFor(person);
      const t = startedAt - 20 * MINUTE;
      await update(token, { personId: person, sessionId: 'first', timestamp: iso(t), data: { n: 1 } });
      await update(token, { personId: person, sessionId: 'second', timestamp: iso(t + MINUTE), data: { n: 2 } });
      await update(token, { personId: person, sessionId: 'third', timestamp: iso(t + 2 * MINUTE), data: { n: 3 } });
      await update(token, { personId: person, sessionId: 'fourth', timestamp: iso(t + 3 * MINUTE), data: { n: 4 } });
      // 'first' becomes the most recently active.
      await update(token, { personId: person, sessionId: 'first', timestamp: iso(t + 4 * MINUTE), data: { n: 5 } });
      // Another person's session is never listed.
      await update(admin, { personId: 'se-many-other', sessionId: 'x', data: { n: 0 } });

      const all = dataOf(await gateway.execute(SessionsDocument, { personId: person }, token)).sessions;
      expect(all.nodes.map((s) => s.sessionId)).toEqual(['first', 'fourth', 'third', 'second']);
      expect(all.nodes.map((s) => s.traceCount)).toEqual([2, 1, 1, 1]);
      expect(all.nodes[0]?.lastAt).toBe(iso(t + 4 * MINUTE));
      expect(all.totalCount).toBe(4);
      expect(all.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });

      const first = dataOf(await gateway.execute(SessionsDocument, { personId: person, first: 3 }, token)).sessions;
      expect(first.nodes.map((s) => s.sessionId)).toEqual(['first', 'fourth', 'third']);
      expect(first.pageInfo.hasNextPage).toBe(true);
      expect(first.totalCount).toBe(4);
      const second = dataOf(await gateway.execute(SessionsDocument, { personId: person, first: 3, after: first.pageInfo.endCursor }, token)).sessions;
      expect(second.nodes.map((s) => s.sessionId)).toEqual(['second']);
      expect(second.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
      expect(second.totalCount).toBe(4);

      const forged = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
      for (const after of ['junk', forged(['sessions', 'not-a-time', 'x']), forged(['sessions', 1e20, 'x']), forged(['sessions', 5, 7])]) {
        expect(codesOf(await gateway.execute(SessionsDocument, { personId: person, after }, token)), after).toEqual(['BAD_USER_INPUT']);
      }
      const none = dataOf(await gateway.execute(SessionsDocument, { personId: 'se-nobody' }, await tokenFor('se-nobody'))).sessions;
      expect(none).toMatchObject({ totalCount: 0, nodes: [], pageInfo: { hasNextPage: false, startCursor: null, endCursor: null } });
    });

    it('orders sessions with the same lastAt consistently across pages', async () => {
      const person = 'se-ties';
      const token = await tokenFor(person);
      const at = iso(startedAt - 15 * MINUTE);
      for (const sessionId of ['a', 'b', 'c', 'd', 'e']) await update(token, { personId: person, sessionId, timestamp: at, data: { sessionId } });
      const full = dataOf(await gateway.execute(SessionsDocument, { personId: person }, token)).sessions.nodes.map((s) => s.sessionId);
      expect([...full].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      const paged: string[] = [];
      let after: string | null | undefined;
      for (let i = 0; i < 5; i += 1) {
        const page = dataOf(await gateway.execute(SessionsDocument, { personId: person, first: 2, after }, token)).sessions;
        paged.push(...page.nodes.map((s) => s.sessionId));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(paged).toEqual(full);
    });

    it('refuses another person’s list with FORBIDDEN; an admin may list anyone’s', async () => {
      const owner = 'se-list-owner';
      await update(await tokenFor(owner), { personId: owner, sessionId: 's1', data: { a: 1 } });
      expect(codesOf(await gateway.execute(SessionsDocument, { personId: owner }, await tokenFor('se-list-intruder')))).toEqual(['FORBIDDEN']);
      expect(codesOf(await gateway.execute(SessionsDocument, { personId: owner }, null))).toEqual(['UNAUTHENTICATED']);
      expect(dataOf(await gateway.execute(SessionsDocument, { personId: owner }, admin)).sessions.nodes.map((s) => s.sessionId)).toEqual(['s1']);
    });
  });

  describe('contextAt', () => {
    it('travels in time: null before the first update, the state then between updates, the current state after', async () => {
      const person = 'se-time';
      const token = await tokenFor(person);
      const t0 = startedAt - 10 * MINUTE;
      await update(token, { personId: person, sessionId: 's1', timestamp: iso(t0), data: { place: 'home', battery: 90 } });
      // Without a stored snapshot the state is still known at that time.
      await update(token, { personId: person, sessionId: 's1', timestamp: iso(t0 + MINUTE), storeSnapshot: false, data: { place: 'car' } });
      await update(token, { personId: person, sessionId: 's1', timestamp: iso(t0 + 2 * MINUTE), data: { battery: 80, speed: 50 } });
      // Two updates at the same instant: the later one is the state at that instant.
      await update(token, { personId: person, sessionId: 's1', timestamp: iso(t0 + 3 * MINUTE), data: { place: 'office' } });
      await update(token, { personId: person, sessionId: 's1', timestamp: iso(t0 + 3 * MINUTE), data: { speed: 0 } });

      expect(await contextAt(person, 's1', t0 - 1, token)).toBeNull();
      expect(await contextAt(person, 's1', t0 - 3_600_000, token)).toBeNull();
      expect(await contextAt(person, 's1', t0, token)).toEqual({ place: 'home', battery: 90 });
      expect(await contextAt(person, 's1', t0 + 30_000, token)).toEqual({ place: 'home', battery: 90 });
      expect(await contextAt(person, 's1', t0 + MINUTE, token)).toEqual({ place: 'car', battery: 90 });
      expect(await contextAt(person, 's1', t0 + 2 * MINUTE - 1, token)).toEqual({ place: 'car', battery: 90 });
      expect(await contextAt(person, 's1', t0 + 2 * MINUTE + 1, token)).toEqual({ place: 'car', battery: 80, speed: 50 });
      const current = { place: 'office', battery: 80, speed: 0 };
      expect(await contextAt(person, 's1', t0 + 3 * MINUTE, token)).toEqual(current);
      expect(await contextAt(person, 's1', Date.now() + 86_400_000, token)).toEqual(current);
      expect((await session(person, 's1', token))?.context).toEqual(current);

      // An unknown session has no context at any time.
      expect(await contextAt(person, 'unknown', Date.now(), token)).toBeNull();
    });

    it('refuses another person’s session with FORBIDDEN; an admin may travel in anyone’s', async () => {
      const owner = 'se-time-owner';
      const at = startedAt - 5 * MINUTE;
      await update(await tokenFor(owner), { personId: owner, sessionId: 's1', timestamp: iso(at), data: { private: true } });
      const refused = await gateway.execute(ContextAtDocument, { personId: owner, sessionId: 's1', at: iso(at) }, await tokenFor('se-time-intruder'));
      expect(codesOf(refused)).toEqual(['FORBIDDEN']);
      expect(refused.data?.contextAt ?? null).toBeNull();
      expect(codesOf(await gateway.execute(ContextAtDocument, { personId: owner, sessionId: 's1', at: iso(at) }, null))).toEqual(['UNAUTHENTICATED']);
      expect(await contextAt(owner, 's1', at, admin)).toEqual({ private: true });
      // A malformed time is a bad input.
      expect(codesOf(await gateway.execute(ContextAtDocument, { personId: owner, sessionId: 's1', at: 'yesterday' }, admin))).toEqual(['BAD_USER_INPUT']);
    });
  });
});
