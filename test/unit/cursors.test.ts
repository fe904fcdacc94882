import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/domain/cursors.js';
import { afterKey, pageSize, toPage } from '../../src/services/pages.js';

describe('cursors', () => {
  it('round-trips a keyset position', () => {
    const cursor = encodeCursor('traces', [1767225600000, 'id-1']);
    expect(decodeCursor('traces', cursor, 2)).toEqual([1767225600000, 'id-1']);
  });

  it('refuses cursors of another list, another shape, or garbage', () => {
    const cursor = encodeCursor('sessions', [1, 's']);
    expect(decodeCursor('traces', cursor, 2)).toBeNull();
    expect(decodeCursor('sessions', cursor, 1)).toBeNull();
    expect(decodeCursor('traces', 'not a cursor', 2)).toBeNull();
    expect(decodeCursor('traces', Buffer.from('["traces",{"x":1},2]').toString('base64url'), 2)).toBeNull();
  });
});

describe('pages', () => {
  it('defaults to 50 and refuses sizes above the cap or below zero', () => {
    expect(pageSize({}, 1000)).toBe(50);
    expect(pageSize({ first: 1000 }, 1000)).toBe(1000);
    expect(() => pageSize({ first: 1001 }, 1000)).toThrow(/at most 1000/);
    expect(() => pageSize({ first: -1 }, 1000)).toThrow(/negative/);
  });

  it('turns a bad after into BAD_USER_INPUT', () => {
    expect(() => afterKey('traces', { after: 'nope' }, ['time', 'string'])).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    const forged = encodeCursor('traces', ['not-a-time', 'id']);
    expect(() => afterKey('traces', { after: forged }, ['time', 'string'])).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(afterKey('traces', { after: encodeCursor('traces', [5, 'id']) }, ['time', 'string'])).toEqual([5, 'id']);
    expect(afterKey('traces', {}, ['time', 'string'])).toBeNull();
  });

  it('uses the extra row only to say there is a next page', async () => {
    const page = toPage('l', [1, 2, 3], 2, { after: 'x' }, (n) => [n], async () => 3);
    expect(page.edges.map((e) => e.node)).toEqual([1, 2]);
    expect(page.hasNextPage).toBe(true);
    expect(page.hasPreviousPage).toBe(true);
    expect(decodeCursor('l', page.edges[1]!.cursor, 1)).toEqual([2]);
    expect(await page.totalCount()).toBe(3);
  });
});
