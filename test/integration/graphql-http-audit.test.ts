import { serverAudits, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../support/gateway.js';

/**
 * GraphQL over HTTP conformance, checked with the spec's own audit suite against the real gateway: every MUST
 * audit passes, anonymously and with a bearer token (a token must not change how the transport behaves).
 */
describe('GraphQL over HTTP audits (graphql-http)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway?.close());

  const describeFailure = async (result: AuditResult) => {
    if (result.status === 'ok') return '';
    let body = '';
    try {
      body = (await result.response.clone().text()).slice(0, 300);
    } catch {
      body = '(body already read)';
    }
    return `${result.name}: ${result.reason} [HTTP ${result.response.status}] ${body}`;
  };

  const run = async (token: string | null) => {
    const fetchFn: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    };
    const audits = serverAudits({ url: gateway.url, fetchFn });
    const results = await Promise.all(audits.map((audit) => audit.fn()));
    return { audits, results };
  };

  for (const who of ['anonymous', 'with a bearer token'] as const) {
    it(`passes every MUST audit (${who})`, async () => {
      const token = who === 'anonymous' ? null : await gateway.token({ sub: 'auditor' });
      const { audits, results } = await run(token);
      const must = results.filter((r) => r.name.startsWith('MUST'));
      // The suite really ran: graphql-http defines a dozen or so MUST audits.
      expect(must.length).toBeGreaterThanOrEqual(10);
      expect(results).toHaveLength(audits.length);
      const failures = await Promise.all(must.filter((r) => r.status !== 'ok').map(describeFailure));
      expect(failures, `MUST audits failing:\n${failures.join('\n')}`).toEqual([]);
    });
  }
});
