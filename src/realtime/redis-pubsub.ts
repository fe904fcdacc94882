import { Redis } from 'ioredis';
import { createLocalPubSub, type PubSub, type SubscriberCounter } from './pubsub.js';
import { topicCodecs, type TopicName } from './topics.js';

/**
 * Pub/sub across gateway processes: every publish goes to Redis, and each process fans what Redis delivers out
 * to its own subscribers (through the local implementation, so buffers and limits are the same). A process
 * subscribes to a Redis channel only while it has a subscriber for that topic id. Channels are prefixed so
 * several deployments can share one Redis.
 */
export async function createRedisPubSub(
  url: string,
  prefix: string,
  options: { counter?: SubscriberCounter; onError?: (error: Error) => void } = {},
): Promise<PubSub> {
  const publisher = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  const subscriber = new Redis(url, { lazyConnect: true });
  // After start-up ioredis reconnects by itself; its errors are reported, never thrown at the process.
  for (const client of [publisher, subscriber]) client.on('error', (error: Error) => options.onError?.(error));
  try {
    await Promise.all([publisher.connect(), subscriber.connect()]);
  } catch (error) {
    publisher.disconnect();
    subscriber.disconnect();
    throw new Error(`REDIS_URL: cannot connect to ${url} (${(error as Error).message})`);
  }

  const channelOf = (key: string) => `${prefix}:${key}`;
  const local = createLocalPubSub({
    counter: options.counter,
    channels: {
      open: async (key) => void (await subscriber.subscribe(channelOf(key))),
      close: async (key) => void (await subscriber.unsubscribe(channelOf(key)).catch(() => undefined)),
    },
  });
  subscriber.on('message', (channel: string, message: string) => {
    const [topic, ...rest] = channel.slice(prefix.length + 1).split(':');
    const codec = topicCodecs[topic as TopicName];
    if (!codec) return;
    void local.publish(topic as TopicName, rest.join(':'), codec.decode(message) as never);
  });

  return {
    async publish(topic, id, payload) {
      await publisher.publish(channelOf(`${topic}:${id}`), topicCodecs[topic].encode(payload));
    },
    subscribe: local.subscribe,
    async close() {
      await local.close();
      subscriber.disconnect();
      await publisher.quit().catch(() => publisher.disconnect());
    },
  };
}
