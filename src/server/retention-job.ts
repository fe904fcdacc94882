import type { YogaLogger } from 'graphql-yoga';
import type { Config } from '../config.js';
import type { Services } from '../services/index.js';

/** Removes traces older than RETENTION_DAYS every RETENTION_SWEEP_MINUTES (first run at start-up). */
export function startRetentionJob(services: Services, config: Config, logger: YogaLogger) {
  let running: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    running = services
      .applyRetention()
      .then(({ deletedCount, cutoff }) => {
        if (deletedCount > 0) logger.info(`retention: deleted ${deletedCount} traces older than ${cutoff.toISOString()}`);
      })
      .catch((error: unknown) => logger.error('retention sweep failed', error));
  };
  sweep();
  const timer = setInterval(sweep, config.retentionSweepMinutes * 60_000).unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
