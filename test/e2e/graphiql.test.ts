import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../support/gateway.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`GraphiQL end-to-end test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

const SUBSCRIPTION = 'subscription { contextUpdated(personId: "developer") { sessionId context } }';

// A developer in a real browser: GraphiQL loads from the gateway itself (no CDN) and a subscription started in
// it shows an update sent afterwards.
describe.skipIf(!haveChromium)('GraphiQL in headless Chromium', () => {
  let gateway: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    gateway = await startGateway({ JWT_SECRET: '' }); // open development mode, as a developer runs it
    // Playwright gives the browser a fresh temporary profile; these flags keep it off the (closed) network.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('runs a subscription and shows live updates', async () => {
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(new URL(gateway.url).origin) && !/^(data|blob):/.test(request.url())) external.push(request.url());
    });
    await page.goto(`${gateway.url}?query=${encodeURIComponent(SUBSCRIPTION)}`);
    await page.locator('.graphiql-execute-button').click();
    await gateway.untilSubscribers(1);

    const response = await gateway.execute(
      'mutation { updateContext(input: { personId: "developer", sessionId: "browser", sources: [{ source: "e2e", data: { seenIn: "graphiql" } }] }) { duplicate } }',
    );
    expect(response.errors).toBeUndefined();

    await expect.poll(() => page.locator('.graphiql-response').innerText(), { timeout: 15_000 }).toContain('graphiql');
    expect(external, external.join("\n")).toEqual([]);
  });
});
