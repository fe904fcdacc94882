import { ConfigError, loadConfig } from './config.js';
import { createServer } from './server.js';

// Process entry: read config, start, stop cleanly on SIGTERM/SIGINT. Everything else lives in createServer.
try {
  const config = loadConfig();
  const server = await createServer(config);
  const mode = config.auth.mode === 'open' ? 'OPEN DEVELOPMENT MODE (no auth; set JWT_SECRET or JWKS_URL)' : `auth: ${config.auth.mode}`;
  console.log(`Replay Gateway ready at ${server.url} (${config.store.provider}, ${mode})`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: finishing in-flight work`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
