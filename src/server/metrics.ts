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
      metrics: {
        graphql_envelop_request_duration: true,
        graphql_envelop_error_result: true,
        graphql_envelop_deprecated_field: false,
        graphql_yoga_http_duration: true,
      },
    }),
    websocketConnections: new Gauge({ name: 'replay_gateway_websocket_connections', help: 'Open graphql-ws connections', registers: [registry] }),
    pubsubSubscribers: new Gauge({ name: 'replay_gateway_pubsub_subscribers', help: 'Subscribers listening for live events', registers: [registry] }),
    websocketSubscriptions: new Gauge({ name: 'replay_gateway_websocket_subscriptions', help: 'Active graphql-ws subscriptions', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
