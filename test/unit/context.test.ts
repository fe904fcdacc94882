import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.js';
import { loadConfig } from '../../src/config.js';
import type { Services } from '../../src/services/index.js';
import type { Db } from '../../src/store/database.js';

describe('request context', () => {
  const context = () => createContext({ db: {} as Db, services: {} as Services, limits: loadConfig({}).limits }, null);

  it('keeps one set of loaders across uses, also in a spread copy (Yoga merges contexts by spreading them)', () => {
    const merged = { ...context() };
    const first = merged.loaders.traceById;
    expect(merged.loaders.traceById).toBe(first);
  });

  it('starts a new set of loaders on refreshLoaders, also in a spread copy, so no event sees another event’s cached rows', () => {
    const merged = { ...context() };
    const before = merged.loaders.session;
    merged.refreshLoaders();
    expect(merged.loaders.session).not.toBe(before);
    expect(merged.loaders.session).toBe(merged.loaders.session);
  });
});
