/**
 * The push side of the live streams: a consumer that takes each event as it is published, instead of pulling it
 * with `next()`. An idle subscriber then holds no pending promise in each stream layer (a few hundred bytes a
 * layer, times every dashboard connected). The streams offer it beside async iteration; a consumer that can take
 * pushes asks with `listen`, and pulls when the answer is no.
 */
export interface EventSink<T> {
  onEvent(event: T): void;
  /** The stream ended, normally or with `error`. Not called when the consumer ended it itself (`return()`). */
  onEnd(error?: unknown): void;
}

/** A stream that can push: `listen` answers false when it cannot (e.g. it wraps a stream that only iterates). */
export interface Listenable<T> {
  listen(sink: EventSink<T>): boolean;
}

export const canListen = <T>(stream: object): stream is Listenable<T> => typeof (stream as Partial<Listenable<T>>).listen === 'function';
