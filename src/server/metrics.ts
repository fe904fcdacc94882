import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** One registry per server (never the global one), so several servers can live in one process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    yogaPlugin: usePrometheus({
      registry,
      endpoint: false,
      // The plugin turns on every metric it knows unless told otherwise. Kept: a histogram of operations by name
      // and type (its _count counts them), errors by phase and HTTP durations. Off: the per-phase histograms, a
      // request counter the histogram already gives, and a summary whose quantiles are computed in the process
      // on every request (a few per cent of a page of traces' server time).
      metrics: {
        graphql_envelop_request_duration: true,
        graphql_envelop_error_result: true,
        graphql_yoga_http_duration: true,
        graphql_envelop_request: false,
        graphql_envelop_request_time_summary: false,
        graphql_envelop_phase_parse: false,
        graphql_envelop_phase_validate: false,
        graphql_envelop_phase_context: false,
        graphql_envelop_phase_execute: false,
        graphql_envelop_phase_subscribe: false,
        graphql_envelop_deprecated_field: false,
        graphql_envelop_schema_change: false,
      },
    }),
    websocketConnections: new Gauge({ name: 'replay_gateway_websocket_connections', help: 'Open graphql-ws connections', registers: [registry] }),
    pubsubSubscribers: new Gauge({ name: 'replay_gateway_pubsub_subscribers', help: 'Subscribers listening for live events', registers: [registry] }),
    websocketSubscriptions: new Gauge({ name: 'replay_gateway_websocket_subscriptions', help: 'Active graphql-ws subscriptions', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
