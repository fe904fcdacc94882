import pg from 'pg';

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the PostgreSQL the tests use answers; TEST_DATABASE_URL names another one. */
export async function postgresAvailability(url = process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { available: true as const, url };
  } catch (error) {
    return { available: false as const, url, reason: `${url} unreachable (${(error as Error).message})` };
  } finally {
    await client.end().catch(() => undefined);
  }
}
