import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_TEST_DATABASE_URL } from './postgres-availability.js';

export type TestProvider = 'sqlite' | 'postgresql';

/** The store this test project runs against (set per vitest project). */
export const testProvider = (): TestProvider => (process.env.TEST_DATABASE === 'postgresql' ? 'postgresql' : 'sqlite');

/** A fresh, empty database for one suite: a temp SQLite file, or a new PostgreSQL database. Drop it when done. */
export async function freshDatabase(provider: TestProvider = testProvider()): Promise<{ url: string; drop(): Promise<void> }> {
  if (provider === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'replay-gateway-'));
    return { url: `file:${join(dir, 'replay.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
  const name = `rg_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
