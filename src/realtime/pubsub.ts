import { FixedBuffer, Repeater } from '@repeaterjs/repeater';
import { rateLimited } from '../errors.js';
import type { TopicName, Topics } from './topics.js';

export interface SubscribeOptions {
  /** Most events held for a subscriber that is not reading; one more ends its stream with RATE_LIMITED. */
  bufferLimit: number;
  /** Called at once when the subscriber overflows, so the transport can close it with a clear code. */
  onOverflow?: () => void;
  /** Called once the subscriber really listens (across processes: once Redis confirmed the channel). */
  onListening?: () => void;
}

/** Typed publish/subscribe; in-process here, and the seam a cross-process (Redis) implementation fills. */
export interface PubSub {
  publish<T extends TopicName>(topic: T, id: string, payload: Topics[T]): Promise<void>;
  subscribe<T extends TopicName>(topic: T, id: string, options: SubscribeOptions): AsyncIterableIterator<Topics[T]>;
  /** Ends every live subscriber's stream (normally, as if its topic had completed) and stops listening. */
  close(): Promise<void>;
}

export const SLOW_SUBSCRIBER = 'Subscriber fell too far behind and was cut off';

type Listener = (payload: unknown) => void;

/** Told when a subscriber starts and stops listening (the gateway feeds a metric with it). */
export interface SubscriberCounter {
  inc(): void;
  dec(): void;
}

export interface LocalPubSubOptions {
  counter?: SubscriberCounter;
  /**
   * Called (and awaited) before the first subscriber of a topic id is counted as listening, and after the last
   * one left: the Redis implementation subscribes and unsubscribes its channel there.
   */
  channels?: { open(key: string): Promise<void>; close(key: string): Promise<void> };
}

/** Delivers to subscribers in this process; each subscriber has its own bounded buffer. */
export function createLocalPubSub({ counter, channels }: LocalPubSubOptions = {}): PubSub {
  const opening = new Map<string, Promise<void>>();
  const listeners = new Map<string, Set<Listener>>();
  const stops = new Set<() => void>();
  return {
    async publish(topic, id, payload) {
      for (const listener of listeners.get(`${topic}:${id}`) ?? []) listener(payload);
    },
    subscribe<T extends TopicName>(topic: T, id: string, options: SubscribeOptions) {
      const key = `${topic}:${id}`;
      const buffer = new FixedBuffer(options.bufferLimit);
      return new Repeater<Topics[T]>(async (push, stop) => {
        const listener: Listener = (payload) => {
          if (buffer.full) {
            options.onOverflow?.();
            stop(rateLimited(SLOW_SUBSCRIBER, { bufferLimit: options.bufferLimit }));
            return;
          }
          void push(payload as Topics[T]);
        };
        const set = listeners.get(key) ?? new Set();
        listeners.set(key, set.add(listener));
        const end = () => stop();
        stops.add(end);
        if (channels && !opening.has(key)) opening.set(key, channels.open(key));
        await opening.get(key);
        counter?.inc();
        options.onListening?.();
        await stop;
        stops.delete(end);
        set.delete(listener);
        counter?.dec();
        if (set.size === 0) {
          listeners.delete(key);
          opening.delete(key);
          await channels?.close(key);
        }
      }, buffer);
    },
    async close() {
      // Ending the streams (not just forgetting them) lets SSE responses finish, so the HTTP server can close.
      for (const end of [...stops]) end();
      listeners.clear();
    },
  };
}
