import { defineConfig } from 'vitest/config';
import { postgresAvailability } from './test/support/postgres-availability.js';

// The whole suite runs once per store: SQLite always; PostgreSQL whenever it is reachable (CI always has it).
export default defineConfig(async () => {
  const postgres = await postgresAvailability();
  if (!postgres.available) console.log(`PostgreSQL suite skipped: ${postgres.reason}`);
  const shared = { testTimeout: 30_000, hookTimeout: 60_000, include: ['test/**/*.test.ts'] };
  return {
    // Node resolves `graphql` to its CommonJS entry for the packages it loads; Vite would pick the .mjs one for
    // ours, and two copies of graphql refuse to work together.
    resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
    test: {
      projects: [
        { extends: true, test: { ...shared, name: 'sqlite', env: { TEST_DATABASE: 'sqlite' } } },
        ...(postgres.available
          ? [{ extends: true, test: { ...shared, name: 'postgresql', env: { TEST_DATABASE: 'postgresql', TEST_DATABASE_URL: postgres.url } } }]
          : []),
      ],
    },
  };
});
