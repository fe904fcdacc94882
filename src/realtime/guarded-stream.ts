import { isExpired, type Viewer } from '../auth/viewer.js';
import { unauthenticated } from '../errors.js';
import { canListen, type EventSink, type Listenable } from './event-sink.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * What every subscription delivers through: events pass only while the viewer's token is valid and `allow`
 * accepts them; at expiry the stream ends with UNAUTHENTICATED even if no event is due. Pull-through (each event
 * is read from `source` when the consumer asks for one), so the source's own bound on waiting events holds; or,
 * when the source can push, it pushes through to a listening consumer (see event-sink.ts).
 */
export function guardStream<T>(
  source: AsyncIterableIterator<T>,
  viewer: Viewer,
  allow: (event: T) => boolean = () => true,
): AsyncIterableIterator<T> {
  return new GuardedStream(source, viewer, allow);
}

const expire = (stream: GuardedStream<unknown>) => stream.end(unauthenticated('Token has expired'));

/**
 * Written with plain promise chains (or none, when pushing): an idle subscriber holds at most one pending promise
 * here, not a suspended function.
 */
class GuardedStream<T> implements AsyncIterableIterator<T>, Listenable<T>, EventSink<T> {
  #ended = false;
  /** The listening consumer, when the source pushes. */
  #sink: EventSink<T> | null = null;
  /** An error the stream ended with that the consumer has not been given yet. */
  #failure: unknown;
  /** Rejects the consumer's pending `next`, so an expiry reaches it at once rather than with the next event. */
  #interrupt: ((error: unknown) => void) | null = null;
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: AsyncIterableIterator<T>,
    private readonly viewer: Viewer,
    private readonly allow: (event: T) => boolean,
  ) {
    const untilExpiry = viewer.expiresAt === null ? null : viewer.expiresAt - Date.now();
    if (untilExpiry !== null && untilExpiry < MAX_TIMER_MS) {
      this.#timer = setTimeout(expire, Math.max(0, untilExpiry), this as GuardedStream<unknown>);
    }
  }

  /** Ends the stream and its source; `error`, if given, is what the consumer gets (now, if it is waiting). */
  end(error?: unknown) {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    void this.source.return?.();
    if (this.#sink) {
      const sink = this.#sink;
      this.#sink = null;
      return sink.onEnd(error);
    }
    if (error === undefined) return;
    if (this.#interrupt) this.#interrupt(error);
    else this.#failure = error;
  }

  listen(sink: EventSink<T>) {
    if (this.#ended || !canListen<T>(this.source)) return false;
    this.#sink = sink;
    if (this.source.listen(this)) return true;
    this.#sink = null;
    return false;
  }

  /** An event the source pushed: passed on under the same rules as a pulled one. */
  onEvent(event: T) {
    if (this.#ended) return;
    if (isExpired(this.viewer)) return this.end(unauthenticated('Token has expired'));
    if (this.allow(event)) this.#sink?.onEvent(event);
  }

  onEnd(error?: unknown) {
    this.end(error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#ended) {
      const failure = this.#failure;
      this.#failure = undefined;
      return failure === undefined ? Promise.resolve(DONE) : Promise.reject(failure);
    }
    const pulled = this.#pull();
    // Without an expiry timer nothing can interrupt the wait, so the pull is answered as it is.
    if (this.#timer === undefined) return pulled;
    return new Promise((resolve, reject) => {
      this.#interrupt = reject;
      // Cleared only if still this call's: the consumer may already be waiting on its next call.
      const settled = () => {
        if (this.#interrupt === reject) this.#interrupt = null;
      };
      pulled.then(
        (step) => {
          settled();
          resolve(step);
        },
        (error: unknown) => {
          settled();
          reject(error);
        },
      );
    });
  }

  async return(): Promise<IteratorResult<T>> {
    this.#sink = null;
    this.end();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<T>> {
    this.#sink = null;
    this.end();
    throw error;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** The next event that passes, read from the source (skipping those `allow` refuses). */
  #pull(): Promise<IteratorResult<T>> {
    return this.source.next().then(
      (step) => {
        if (this.#ended) return DONE;
        if (step.done) {
          this.end();
          return DONE;
        }
        if (isExpired(this.viewer)) {
          this.end();
          throw unauthenticated('Token has expired');
        }
        return this.allow(step.value) ? step : this.#pull();
      },
      (error: unknown) => {
        this.end();
        throw error;
      },
    );
  }
}
