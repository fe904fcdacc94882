// The HTTP part of a bare `node:http` JSON endpoint, shared by the request/response baselines and by the load
// generator's control endpoint: read the POST body, parse it, answer the handler's value with JSON.stringify.
// Nothing else (no routing, no validation framework), as the fastest straightforward server would be written.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Serves `handle` on 127.0.0.1 at a free port and prints `<name> ready at <url>` (what `spawnScript` waits for).
 * A handler that throws answers 500 with the message, so a load generator counts it as a failed request.
 */
export function serveJson(name: string, handle: (body: unknown) => unknown) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      try {
        const value = await handle(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    console.log(`${name} ready at http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });
}
