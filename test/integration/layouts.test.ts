import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codesOf, dataOf, startGateway, type TestGateway } from '../support/gateway.js';

const LAYOUTS = `{ layoutProfiles { id name canvasSize { width height } zones { id name color bounds { x y width height } } } }`;

describe('layoutProfiles', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway?.close());

  it('lists the default and quadrant layouts to any valid token', async () => {
    const token = await gateway.token({ sub: 'lp-anyone' });
    const { layoutProfiles } = dataOf(await gateway.execute(LAYOUTS, {}, token)) as {
      layoutProfiles: { id: string; canvasSize: { width: number; height: number }; zones: { id: string; bounds: { x: number; width: number } }[] }[];
    };
    expect(layoutProfiles.map((p) => p.id)).toEqual(['default', 'quadrant']);
    expect(layoutProfiles[0]).toMatchObject({ canvasSize: { width: 1000, height: 600 } });
    expect(layoutProfiles[0]!.zones.map((z) => [z.id, z.bounds.x, z.bounds.width])).toEqual([
      ['supporters', 0, 300],
      ['neutral', 300, 400],
      ['skeptics', 700, 300],
    ]);
    expect(layoutProfiles[1]!.zones).toHaveLength(4);
  });

  it('needs a token', async () => {
    expect(codesOf(await gateway.execute(LAYOUTS, {}, null))).toEqual(['UNAUTHENTICATED']);
  });
});
