import { Repeater } from '@repeaterjs/repeater';
import { isExpired, type Viewer } from '../auth/viewer.js';
import { unauthenticated } from '../errors.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * What every subscription delivers through: events pass only while the viewer's token is valid and `allow`
 * accepts them; at expiry the stream ends with UNAUTHENTICATED even if no event is due.
 */
export function guardStream<T>(
  source: AsyncIterableIterator<T>,
  viewer: Viewer,
  allow: (event: T) => boolean = () => true,
): AsyncIterableIterator<T> {
  return new Repeater<T>(async (push, stop) => {
    const untilExpiry = viewer.expiresAt === null ? null : viewer.expiresAt - Date.now();
    const timer =
      untilExpiry !== null && untilExpiry < MAX_TIMER_MS
        ? setTimeout(() => stop(unauthenticated('Token has expired')), Math.max(0, untilExpiry))
        : undefined;
    let stopped = false;
    void stop.then(() => {
      stopped = true;
      clearTimeout(timer);
      void source.return?.();
    });
    try {
      for await (const event of source) {
        if (stopped) break;
        if (isExpired(viewer)) throw unauthenticated('Token has expired');
        if (allow(event)) await push(event);
      }
      stop();
    } catch (error) {
      stop(error);
    }
  });
}
