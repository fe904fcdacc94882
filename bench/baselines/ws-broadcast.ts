// The WebSocket benchmarks' baseline server: plain `ws` with nothing on top, as a hand-written broadcaster would
// be. `fanout` compares the gateway's graphql-ws delivery with this server's broadcast of the same pre-serialised
// message; `subscriber-memory` compares a graphql-ws subscription with one of these bare connections.
// Started by `spawnScript`; prints its URL when ready.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const TEXT = { binary: false };

// `POST /publish` is the trigger the gateway side gets as an `updateContext` mutation: its body, the message
// already serialised, goes as it is (one buffer, one text frame each) to every client.
const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/publish') return void res.writeHead(404).end();
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk)).once('end', () => {
    const message = Buffer.concat(chunks);
    for (const client of wss.clients) client.send(message, TEXT);
    res.writeHead(204).end();
  });
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });

server.listen(0, '127.0.0.1', () => {
  console.log(`ws-broadcast ready at http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
});
process.once('SIGTERM', () => process.exit(0));
