// SQLite's hot single-row writes commit in groups: one transaction and one fsync for the writes queued together,
// each in its own savepoint. These tests hold it to what that must not change: a write that throws is undone
// alone, a failed COMMIT acknowledges nothing, and a group never lands inside a transaction Prisma holds open.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase } from '../../src/store/database.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import { findIdempotentResponse } from '../../src/store/idempotency.js';
import type { SessionAppend } from '../../src/store/session-appends.js';
import { findTrace } from '../../src/store/traces.js';

const dirs: string[] = [];
function databaseFile() {
  const dir = mkdtempSync(join(tmpdir(), 'replay-gateway-group-commit-'));
  dirs.push(dir);
  return join(dir, 'store.db');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openConnection(file: string) {
  const connection = new BetterSqlite3(file);
  connection.pragma('journal_mode = WAL');
  connection.pragma('foreign_keys = ON');
  connection.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
    CREATE TABLE parents (id INTEGER PRIMARY KEY);
    CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);`);
  return connection;
}

describe('GroupCommit', () => {
  it('commits the writes queued together in one transaction, and undoes only the one that throws', async () => {
    const file = databaseFile();
    const connection = openConnection(file);
    const reader = new BetterSqlite3(file, { readonly: true });
    const commits = new GroupCommit(connection);
    const insert = connection.prepare('INSERT INTO items (id, label) VALUES (?, ?)');
    const countCommitted = reader.prepare('SELECT COUNT(*) FROM items').pluck();
    const seenByOthers: unknown[] = [];

    const writes = [0, 1, 2, 3, 4].map((id) =>
      commits.run(() => {
        insert.run(id, `item ${id}`);
        seenByOthers.push(countCommitted.get());
        if (id === 2) throw new Error('write 2 refused');
        return id * 10;
      }),
    );
    const settled = await Promise.allSettled(writes);

    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([0, 10, 'write 2 refused', 30, 40]);
    // Until the group's COMMIT, another connection saw none of its rows: the five ran in one transaction.
    expect(seenByOthers).toEqual([0, 0, 0, 0, 0]);
    expect(reader.prepare('SELECT id FROM items ORDER BY id').pluck().all()).toEqual([0, 1, 3, 4]);
    expect(connection.inTransaction).toBe(false);
    reader.close();
    connection.close();
  });

  it('fails every write of a group whose COMMIT fails, stores none of them, and commits the next group', async () => {
    const connection = openConnection(databaseFile());
    const commits = new GroupCommit(connection);
    const insertItem = connection.prepare('INSERT INTO items (id, label) VALUES (?, ?)');
    // A deferred foreign key is checked at COMMIT: the savepoint is released, the commit refused.
    const orphan = commits.run(() => connection.prepare('INSERT INTO children (id, parent) VALUES (1, 99)').run());
    const innocent = commits.run(() => insertItem.run(1, 'innocent'));
    const settled = await Promise.allSettled([orphan, innocent]);

    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(settled.map((s) => (s as PromiseRejectedResult).reason.code)).toEqual(['SQLITE_CONSTRAINT_FOREIGNKEY', 'SQLITE_CONSTRAINT_FOREIGNKEY']);
    expect(connection.prepare('SELECT COUNT(*) FROM items').pluck().get()).toBe(0);
    expect(connection.inTransaction).toBe(false);

    await expect(commits.run(() => insertItem.run(2, 'next').changes)).resolves.toBe(1);
    expect(connection.prepare('SELECT id FROM items').pluck().all()).toEqual([2]);
    connection.close();
  });

  it('settles every write of a queue longer than one group, in order', async () => {
    const connection = openConnection(databaseFile());
    const commits = new GroupCommit(connection);
    const insert = connection.prepare('INSERT INTO items (id, label) VALUES (?, ?)');
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const settledOrder: number[] = [];
    await Promise.all(ids.map((id) => commits.run(() => insert.run(id, 'x')).then(() => settledOrder.push(id))));
    expect(settledOrder).toEqual(ids);
    expect(connection.prepare('SELECT COUNT(*) FROM items').pluck().get()).toBe(1000);
    connection.close();
  });
});

describe('the SQLite store’s session appender', () => {
  it('waits for a transaction Prisma holds open across awaits, and is not undone by its rollback', async () => {
    const file = databaseFile();
    const store = await openDatabase({ provider: 'sqlite', url: `file:${file}`, filename: file });
    try {
      const events: string[] = [];
      const scope = { scope: 'person:p1', operation: 'test', key: 'held-open' };
      const heldOpen = store.db.$transaction(async (tx) => {
        await tx.idempotencyKey.create({ data: { ...scope, response: {}, createdAt: new Date() } });
        await sleep(150);
        events.push('prisma rolled back');
        throw new Error('abandoned');
      });
      await sleep(30);
      const now = new Date();
      const appended = store.sessions
        .append({ personId: 'p1', sessionId: 's1' }, null, (session): SessionAppend => {
          expect(session).toBeNull();
          const context = { mood: 'calm' };
          const trace = {
            id: 'trace-1', personId: 'p1', sessionId: 's1', seq: 1, eventType: 'context_update', timestamp: now, receivedAt: now,
            eventData: { sources: [] }, contextAfter: context, snapshotStored: true, replayOfId: null, replaySource: null, replayedBy: null,
          };
          return { trace, context };
        })
        .then((outcome) => {
          events.push('append committed');
          return outcome;
        });
      await expect(heldOpen).rejects.toThrow('abandoned');
      const outcome = await appended;

      expect(events).toEqual(['prisma rolled back', 'append committed']);
      expect(await findIdempotentResponse(store.read, scope)).toBeNull();
      // Written past the ORM, read back through it exactly as returned.
      expect('appended' in outcome && (await findTrace(store.read, 'trace-1'))).toEqual('appended' in outcome && outcome.appended.trace);
      const session = await store.read.session.findUnique({ where: { personId_sessionId: { personId: 'p1', sessionId: 's1' } } });
      expect(session).toEqual({ personId: 'p1', sessionId: 's1', traceCount: 1, lastSeq: 1, firstAt: now, lastAt: now, context: { mood: 'calm' } });
    } finally {
      await store.close();
    }
  });
});
