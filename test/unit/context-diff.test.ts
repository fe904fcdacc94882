import { describe, expect, it } from 'vitest';
import { diffContexts } from '../../src/domain/context-diff.js';

describe('diffContexts', () => {
  it('is empty for equal values, key order aside', () => {
    expect(diffContexts({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toEqual([]);
  });

  it('reports each differing leaf with its path', () => {
    expect(diffContexts({ a: 1, b: { c: [1, 2] }, gone: true }, { a: 2, b: { c: [1, 3, 4] }, added: 'x' })).toEqual([
      { path: '$.a', original: 1, replayed: 2 },
      { path: '$.added', original: null, replayed: 'x' },
      { path: '$.b.c[1]', original: 2, replayed: 3 },
      { path: '$.b.c[2]', original: null, replayed: 4 },
      { path: '$.gone', original: true, replayed: null },
    ]);
  });

  it('reports a change of kind as one difference', () => {
    expect(diffContexts({ a: [1] }, { a: { 0: 1 } })).toEqual([{ path: '$.a', original: [1], replayed: { 0: 1 } }]);
  });
});
