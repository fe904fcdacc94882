import { rateLimited } from '../errors.js';
import type { EventSink, Listenable } from './event-sink.js';
import type { TopicName, Topics } from './topics.js';

export interface SubscribeOptions {
  /** Most events held for a subscriber that is not reading; one more ends its stream with RATE_LIMITED. */
  bufferLimit: number;
  /** Called at once when the subscriber overflows, with the code and reason its transport should close with. */
  onOverflow?: (code: number, reason: string) => void;
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
/** How a transport closes the connection of a subscriber that fell too far behind (1008: policy violation). */
export const SLOW_SUBSCRIBER_CLOSE = { code: 1008, reason: 'Subscriber too slow: outgoing buffer full' } as const;

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
  const listeners = new Map<string, Set<SubscriberStream<unknown>>>();

  const registry: Registry = {
    add(subscriber) {
      const { key } = subscriber;
      const set = listeners.get(key) ?? new Set();
      listeners.set(key, set.add(subscriber));
      if (channels && !opening.has(key)) opening.set(key, channels.open(key));
      const open = opening.get(key);
      if (!open) return subscriber.listening();
      open.then(
        () => subscriber.listening(),
        (error: unknown) => subscriber.stop(error),
      );
    },
    remove(subscriber) {
      const { key } = subscriber;
      const set = listeners.get(key);
      if (!set?.delete(subscriber) || set.size > 0) return;
      listeners.delete(key);
      opening.delete(key);
      void channels?.close(key);
    },
  };

  return {
    async publish(topic, id, payload) {
      for (const subscriber of listeners.get(`${topic}:${id}`) ?? []) subscriber.push(payload);
    },
    subscribe<T extends TopicName>(topic: T, id: string, options: SubscribeOptions) {
      return new SubscriberStream<Topics[T]>(`${topic}:${id}`, registry, options, counter);
    },
    async close() {
      // Ending the streams (not just forgetting them) lets SSE responses finish, so the HTTP server can close.
      for (const set of [...listeners.values()]) for (const subscriber of [...set]) subscriber.stop();
      listeners.clear();
    },
  };
}

/** Where subscriber streams list themselves while they listen. */
interface Registry {
  add(subscriber: SubscriberStream<unknown>): void;
  remove(subscriber: SubscriberStream<unknown>): void;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * One subscriber's stream: publish pushes, the consumer pulls, and at most `bufferLimit` events wait in between;
 * one more stops it with RATE_LIMITED (after what it holds). It starts listening on its first pull, so a stream
 * dropped before that holds nothing. Or the consumer listens (EventSink): each event goes to it as published,
 * and bounding what waits is then the consumer's job. Hand-written rather than a Repeater, and without a
 * suspended function per subscriber: a broadcast pushes into a thousand of these per event, and every idle
 * subscriber holds one, so both the time per push and the bytes per stream count.
 */
class SubscriberStream<T> implements AsyncIterableIterator<T>, Listenable<T> {
  #state: 'new' | 'added' | 'counted' | 'ended' = 'new';
  #sink: EventSink<T> | null = null;
  /** Created on the first event that has to wait. */
  #queue: T[] | null = null;
  #resolve: ((step: IteratorResult<T>) => void) | null = null;
  #reject: ((error: unknown) => void) | null = null;
  /** The error to end with, once the queue is drained. */
  #failure: unknown;

  constructor(
    readonly key: string,
    private readonly registry: Registry,
    private readonly options: SubscribeOptions,
    private readonly counter: SubscriberCounter | undefined,
  ) {}

  push(value: T) {
    if (this.#state === 'ended') return;
    if (this.#sink) {
      this.#sink.onEvent(value);
    } else if (this.#resolve) {
      const resolve = this.#resolve;
      this.#resolve = this.#reject = null;
      resolve({ value, done: false });
    } else if ((this.#queue?.length ?? 0) < this.options.bufferLimit) {
      (this.#queue ??= []).push(value);
    } else {
      this.options.onOverflow?.(SLOW_SUBSCRIBER_CLOSE.code, SLOW_SUBSCRIBER_CLOSE.reason);
      this.stop(rateLimited(SLOW_SUBSCRIBER, { bufferLimit: this.options.bufferLimit }));
    }
  }

  /** Called by the registry once events published from now on reach this stream (with Redis: subscribed). */
  listening() {
    if (this.#state !== 'added') return;
    this.#state = 'counted';
    this.counter?.inc();
    this.options.onListening?.();
  }

  /** Ends the stream once the consumer has taken what is queued, with `error` if given. */
  stop(error?: unknown) {
    if (this.#state === 'ended') return;
    if (this.#state === 'counted') this.counter?.dec();
    if (this.#state !== 'new') this.registry.remove(this as SubscriberStream<unknown>);
    this.#state = 'ended';
    this.#failure = error;
    if (this.#sink) {
      const sink = this.#sink;
      this.#sink = null;
      sink.onEnd(error);
    } else if (this.#resolve) {
      const [resolve, reject] = [this.#resolve, this.#reject!];
      this.#resolve = this.#reject = null;
      this.#settle().then(resolve, reject);
    }
  }

  /** Pushes every event to `sink` from now on; only before the first pull. */
  listen(sink: EventSink<T>) {
    if (this.#state !== 'new') return false;
    this.#sink = sink;
    this.#start();
    return true;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#state === 'new') this.#start();
    if (this.#queue?.length) return Promise.resolve({ value: this.#queue.shift()!, done: false });
    if (this.#state === 'ended') return this.#settle();
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.#queue = null;
    this.#sink = null;
    this.stop();
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  #start() {
    this.#state = 'added';
    this.registry.add(this as SubscriberStream<unknown>);
  }

  /** What an ended, drained stream answers: its error once, then done. */
  #settle(): Promise<IteratorResult<T>> {
    const failure = this.#failure;
    this.#failure = undefined;
    return failure === undefined ? Promise.resolve(DONE) : Promise.reject(failure);
  }
}
