import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig: DATABASE_URL', () => {
  it('refuses an in-memory SQLite database, naming the variable', () => {
    for (const url of ['file::memory:', 'file:replay?mode=memory']) {
      expect(() => loadConfig({ DATABASE_URL: url })).toThrow(ConfigError);
      expect(() => loadConfig({ DATABASE_URL: url })).toThrow(/DATABASE_URL/);
    }
  });

  it('takes file paths and PostgreSQL URLs', () => {
    expect(loadConfig({ DATABASE_URL: 'file:./data/x.db' }).store).toMatchObject({ provider: 'sqlite', filename: './data/x.db' });
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h:5432/d' }).store).toMatchObject({ provider: 'postgresql' });
  });
});
