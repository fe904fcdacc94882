/**
 * A minimal GraphQL-over-HTTP client for benchmarks: POSTs an operation and fails on GraphQL errors (a benchmark
 * that silently measures error responses measures nothing). A synchronous baseline can block this process for
 * seconds, so the server may have closed the idle keep-alive connection picked up next: a failed send is resent
 * once (the operations benchmarks repeat are reads or idempotent writes).
 */
export async function postGraphQL<T = unknown>(url: string, body: string): Promise<T> {
  const send = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const response = await send().catch(() => send());
  const result = (await response.json()) as { data?: T; errors?: unknown };
  if (result.errors || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

/** `postGraphQL` bound to a URL, taking the operation and its variables. */
export const graphqlPoster =
  (url: string) =>
  <T = unknown>(query: string, variables: unknown = {}): Promise<T> =>
    postGraphQL<T>(url, JSON.stringify({ query, variables }));
