import {
  createSourceEventStream,
  execute,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
} from 'graphql';
import { WebSocket } from 'ws';
import type { Viewer } from '../auth/viewer.js';
import { canListen, type EventSink } from '../realtime/event-sink.js';
import { SLOW_SUBSCRIBER_CLOSE } from '../realtime/pubsub.js';

export interface FanoutOptions {
  /** How many `next` frames' worth of bytes a subscriber's socket may hold unwritten; more closes it with 1008. */
  bufferLimit: number;
  maskError: (error: unknown) => GraphQLError;
  /** A fresh context for executing one event for `viewer`, so every event sees the store as it is then. */
  contextFor: (viewer: Viewer | null) => unknown;
}

/** One subscriber: where its events go, who it is, and what to tell when its source ends by itself. */
export interface SubscriptionTarget {
  readonly socket: WebSocket;
  /** The client's operation id. */
  readonly id: string;
  readonly viewer: Viewer | null;
  /** The source completed (no error) or failed. Not called after `stop()`. */
  ended(error?: unknown): void;
}

/** A running subscription: `stop()` ends it without telling the client (it asked, or is gone). */
export interface Delivering {
  stop(): void;
}

type ShapeArgs = Pick<ExecutionArgs, 'schema' | 'document' | 'operationName' | 'variableValues'>;

/**
 * Subscriptions whose events have byte-identical results: the same operation and variables, and viewers with the
 * same access. The token's expiry is left out on purpose: each subscriber's own stream (guardStream) checks it
 * before an event gets here, so subscribers holding different tokens of the same person share executions.
 */
interface Shape {
  args: ShapeArgs;
  /** Per event: its serialised result (a promise while the first subscriber's execution runs). */
  results: WeakMap<object, string | Promise<string>>;
  members: number;
  /** Where the shape is listed, to unlist it when its last member leaves. */
  list: Map<string, Shape>;
  key: string;
}

const accessOf = (viewer: Viewer | null) =>
  viewer && [viewer.personId, [...viewer.roles].sort(), viewer.projects === '*' ? '*' : [...viewer.projects].sort()];

/**
 * Fan-out for graphql-ws subscriptions: one GraphQL execution and one serialisation per (event, operation shape),
 * shared by every subscriber of that shape, then one WebSocket send per subscriber of the finished `next` frame.
 * (Executing, serialising and validating each event once per subscriber, as graphql-ws does, spent most of a
 * broadcast to a thousand dashboards.)
 *
 * Each subscriber keeps its own source stream from the field's `subscribe` resolver, so authorisation at
 * subscribe time, person isolation and token expiry per event, and the publisher-side buffer stay per subscriber.
 * Events are executed as the GraphQL spec maps a source event to a response (`execute` with the event as root
 * value), each in a fresh context, and masked like every other error. A subscriber whose socket holds more than
 * `bufferLimit` frames' worth of bytes not yet written out cannot keep up: it is closed with 1008, so memory stays
 * bounded.
 */
export function createSubscriptionFanout(options: FanoutOptions) {
  const shapes = new WeakMap<DocumentNode, Map<string, Shape>>();

  const masked = (result: ExecutionResult): ExecutionResult =>
    result.errors ? { ...result, errors: result.errors.map((error) => options.maskError(error)) } : result;

  function join({ schema, document, operationName, variableValues }: ExecutionArgs, viewer: Viewer | null): Shape {
    const list = shapes.get(document) ?? shapes.set(document, new Map()).get(document)!;
    const key = JSON.stringify([operationName ?? null, variableValues ?? null, accessOf(viewer)]);
    const shape = list.get(key) ?? { args: { schema, document, operationName, variableValues }, results: new WeakMap(), members: 0, list, key };
    list.set(key, shape);
    shape.members += 1;
    return shape;
  }

  async function run(shape: Shape, event: unknown, viewer: Viewer | null) {
    const contextValue = await options.contextFor(viewer);
    return JSON.stringify(masked(await execute({ ...shape.args, rootValue: event, contextValue })));
  }

  /** What every delivery shares: the shapes' results and the buffer bound. */
  const hub: Hub = {
    bufferLimit: options.bufferLimit,
    resultOf(shape, event, viewer) {
      if (typeof event !== 'object' || event === null) return run(shape, event, viewer);
      const known = shape.results.get(event);
      if (known !== undefined) return known;
      const running = run(shape, event, viewer).then((text) => {
        shape.results.set(event, text);
        return text;
      });
      shape.results.set(event, running);
      return running;
    },
    leave(shape) {
      shape.members -= 1;
      if (shape.members === 0) shape.list.delete(shape.key);
    },
  };

  /** Starts one subscription: the masked errors when it is refused; else it delivers until stopped or ended. */
  async function subscribe(args: ExecutionArgs, target: SubscriptionTarget): Promise<ExecutionResult | Delivering> {
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in source)) return masked(source);
    const delivery = new Delivery(source[Symbol.asyncIterator](), target, join(args, target.viewer), hub);
    delivery.start();
    return delivery;
  }

  return { subscribe };
}

/** A graphql-transport-ws `next` message around an already serialised result. */
const nextFrame = (id: string, payload: string) => `{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`;

interface Hub {
  bufferLimit: number;
  /** The serialised result of `event` for the subscribers of `shape`, executed for whichever of them asks first. */
  resultOf(shape: Shape, event: unknown, viewer: Viewer | null): string | Promise<string>;
  leave(shape: Shape): void;
}

/**
 * One subscriber's delivery: events arrive pushed by a source that can (see event-sink.ts), else pulled one after
 * the other at the pace the socket writes them, and leave as `next` frames in their order. Plain promise chains, not async functions: an idle
 * subscriber holds no suspended function, and with a pushing source not even a pending promise.
 */
class Delivery implements Delivering, EventSink<unknown> {
  #ended = false;
  /** The latest event still being executed; the events after it wait for it, to keep their order. */
  #pending: Promise<void> | null = null;
  /** Events waiting behind `#pending`: bounded like the socket's backlog. */
  #waiting = 0;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly target: SubscriptionTarget,
    private readonly shape: Shape,
    private readonly hub: Hub,
  ) {}

  start() {
    if (!(canListen(this.source) && this.source.listen(this))) this.#pull();
  }

  onEvent(event: unknown) {
    if (this.#ended) return;
    const result = this.hub.resultOf(this.shape, event, this.target.viewer);
    // Most subscribers find the result ready and nothing ahead of it: sent at once, without waiting a turn.
    if (this.#pending === null && typeof result === 'string') return this.#send(result);
    if (this.#waiting >= this.hub.bufferLimit) return this.#tooSlow();
    this.#waiting += 1;
    const sent: Promise<void> = Promise.resolve(this.#pending)
      .then(() => result)
      .then(
        (text) => {
          this.#waiting -= 1;
          if (this.#pending === sent) this.#pending = null;
          this.#send(text);
        },
        (error: unknown) => this.#end(error),
      );
    this.#pending = sent;
  }

  onEnd(error?: unknown) {
    // After what is still on its way, so `complete` (or the error) comes last.
    if (this.#pending) void this.#pending.then(() => this.#end(error));
    else this.#end(error);
  }

  stop() {
    if (this.#ended) return;
    this.#ended = true;
    this.hub.leave(this.shape);
    void this.source.return?.();
  }

  /**
   * A source that cannot push is pulled (replays, playback, project events read from the store): the next event
   * is read once this one's frame is written out, so a slow client slows the reading instead of being cut off,
   * and what waits for it stays in the store. (Live broadcasts push; the socket's backlog bounds those.)
   */
  #pull() {
    this.source.next().then(
      async (step) => {
        if (step.done) return this.onEnd();
        if (this.#ended) return;
        await this.#sendWritten(await this.hub.resultOf(this.shape, step.value, this.target.viewer));
        if (!this.#ended) this.#pull();
      },
    ).catch((error: unknown) => this.onEnd(error));
  }

  /** Sends a frame and resolves once the socket has written it out (or is gone). */
  #sendWritten(payload: string) {
    const { socket, id } = this.target;
    if (socket.readyState !== WebSocket.OPEN) {
      this.stop();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => socket.send(nextFrame(id, payload), () => resolve()));
  }

  #send(payload: string) {
    const { socket, id } = this.target;
    if (this.#ended) return;
    if (socket.readyState !== WebSocket.OPEN) return this.stop();
    const frame = nextFrame(id, payload);
    // Measured on the socket rather than counted per frame: no write callback to keep per subscriber.
    if (socket.bufferedAmount > this.hub.bufferLimit * frame.length) return this.#tooSlow();
    socket.send(frame);
  }

  #tooSlow() {
    this.target.socket.close(SLOW_SUBSCRIBER_CLOSE.code, SLOW_SUBSCRIBER_CLOSE.reason);
    this.stop();
  }

  #end(error?: unknown) {
    if (this.#ended) return;
    this.#ended = true;
    this.hub.leave(this.shape);
    this.target.ended(error);
  }
}
