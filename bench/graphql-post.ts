/**
 * A minimal GraphQL-over-HTTP client for benchmarks: POSTs an operation and fails on GraphQL errors (a benchmark
 * that silently measures error responses measures nothing). A synchronous baseline can block this process for
 * seconds, so the server may have closed the idle keep-alive connection picked up next: a failed send is resent
 * once (the operations benchmarks repeat are reads or idempotent writes).
 */
export function graphqlPoster(url: string) {
  return async <T = unknown>(query: string, variables: unknown = {}): Promise<T> => {
    const send = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const response = await send().catch(() => send());
    const body = (await response.json()) as { data?: T; errors?: unknown };
    if (body.errors || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
}
