import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { TokenVerifier } from '../auth/tokens.js';
import { AppError } from '../errors.js';
import type { Services } from '../services/index.js';

const EXPORT_PATH = /^\/export\/projects\/([^/]+)\.ndjson$/;

/**
 * The export is plain HTTP, not GraphQL, so every refusal is its HTTP status (GraphQL responses keep 200 for
 * these, as the GraphQL-over-HTTP spec asks; only UNAUTHENTICATED is 401 there too).
 */
const STATUS: Partial<Record<AppError['code'], number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BAD_USER_INPUT: 400 };
const statusOf = (error: AppError) => STATUS[error.code] ?? 500;

export const isProjectExport = (path: string) => EXPORT_PATH.test(path);

function decodeProjectId(escaped: string): string {
  try {
    return decodeURIComponent(escaped);
  } catch {
    throw new AppError('BAD_USER_INPUT', 'The project id in the path is not a valid percent-encoding');
  }
}

/**
 * `GET /export/projects/{id}.ndjson`: the whole stream, one event per line, oldest first, written as the
 * socket drains (constant memory for any length), behind the same access rule as queries.
 */
export async function serveProjectExport(req: IncomingMessage, res: ServerResponse, path: string, verify: TokenVerifier, services: Services) {
  let events: AsyncIterable<unknown>;
  try {
    const projectId = decodeProjectId(EXPORT_PATH.exec(path)![1]!);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new AppError('BAD_USER_INPUT', 'Use GET');
    events = await services.exportEvents(await verify(req.headers.authorization), projectId);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    res.writeHead(statusOf(error), { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code } }] }));
    return;
  }
  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'content-disposition': `attachment; filename="${path.slice(path.lastIndexOf('/') + 1)}"`,
  });
  if (req.method === 'HEAD') return void res.end();
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  for await (const event of events) {
    if (gone.signal.aborted) return;
    if (!res.write(`${JSON.stringify(event)}\n`)) await once(res, 'drain', { signal: gone.signal }).catch(() => undefined);
  }
  res.end();
}
