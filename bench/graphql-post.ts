import { Agent, request } from 'node:http';

/** One keep-alive connection pool for every benchmark request. */
const agent = new Agent({ keepAlive: true });

function send(url: string, body: Buffer) {
  return new Promise<string>((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A minimal GraphQL-over-HTTP client for benchmarks: POSTs an operation and fails on GraphQL errors (a benchmark
 * that silently measures error responses measures nothing). node:http with the body already encoded: fetch spent
 * up to 0.2 s turning a 10 MB string body into bytes, time the gateway would be charged for. A synchronous
 * baseline can block this process for seconds, so the server may have closed the idle keep-alive connection
 * picked up next: a failed send is resent once (the operations benchmarks repeat are reads or idempotent writes).
 */
export async function postGraphQL<T = unknown>(url: string, body: string | Buffer): Promise<T> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const text = await send(url, bytes).catch(() => send(url, bytes));
  const result = JSON.parse(text) as { data?: T; errors?: unknown };
  if (result.errors || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

/** `postGraphQL` bound to a URL, taking the operation and its variables. */
export const graphqlPoster =
  (url: string) =>
  <T = unknown>(query: string, variables: unknown = {}): Promise<T> =>
    postGraphQL<T>(url, JSON.stringify({ query, variables }));
