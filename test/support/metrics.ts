// Reading the gateway's Prometheus metrics in tests: waits on observable server state instead of sleeping.

/** The value of one un-labelled Prometheus metric, read from the gateway's /metrics. */
export async function metricValue(graphqlUrl: string, name: string): Promise<number> {
  const text = await (await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!match) throw new Error(`Metric ${name} not found`);
  return Number(match[1]);
}

/** Polls /metrics until `predicate` holds for the metric; a bounded wait on an observable state, not a sleep. */
export async function untilMetric(graphqlUrl: string, name: string, predicate: (value: number) => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await metricValue(graphqlUrl, name);
    if (predicate(value)) return value;
    if (Date.now() > deadline) throw new Error(`${name} is ${value} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
