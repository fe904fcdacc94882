import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import {
  CloseCode,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  handleProtocols,
  MessageType,
  parseMessage,
  stringifyMessage,
  type Message,
  type SubscribeMessage,
} from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { TokenVerifier } from '../auth/tokens.js';
import type { Viewer } from '../auth/viewer.js';
import type { Limits } from '../config.js';
import type { GraphQLContext } from '../context.js';
import type { TransportContext } from '../server.js';
import type { Metrics } from './metrics.js';
import { createSubscriptionFanout, type Delivering, type SubscriptionTarget } from './subscription-fanout.js';

interface Options {
  verify: TokenVerifier;
  limits: Limits;
  metrics: Metrics;
  isReady: () => boolean;
  openMode: boolean;
  /** The same masking HTTP responses get: every error leaves with an `extensions.code`. */
  maskError: (error: unknown) => GraphQLError;
}

/** How long a new connection may take to send connection_init. */
const INIT_WAIT_MS = 10_000;
/** Every connection is pinged this often, and closed if the previous ping went unanswered. */
const KEEP_ALIVE_MS = 12_000;

/**
 * The graphql-transport-ws protocol (graphql-ws's message types, validation and close codes) on the shared
 * `/graphql` path. Every operation is parsed, validated and given its context by Yoga's enveloped pipeline, so
 * auth, limits and loaders are the same as over HTTP; queries and mutations run through its execute too, while
 * subscriptions are fanned out (see subscription-fanout.ts) with the same error masking. A bad or missing token
 * at connect closes with 4403 Forbidden, as the protocol defines.
 *
 * Implemented here rather than with graphql-ws's own server, which keeps for as long as a subscription lives a
 * suspended handler holding the raw and the parsed message and the operation's context, and per socket the
 * upgrade request and two timers. With it (and Repeater-based streams) an idle subscription took about 19 KB of
 * heap; here about 4 KB, of which 2.5 KB is the `ws` connection itself (bench/subscriber-memory.ts).
 */
export function attachGraphqlWs(wss: WebSocketServer, yoga: YogaServerInstance<TransportContext, GraphQLContext>, options: Options) {
  const { limits, metrics, maskError } = options;
  const connections = new WeakMap<WebSocket, Connection>();
  const enveloped = (context: TransportContext & { params?: SubscribeMessage['payload'] }) => yoga.getEnveloped(context);
  const fanout = createSubscriptionFanout({
    bufferLimit: limits.subscriberBufferEvents,
    maskError,
    contextFor: (viewer) => enveloped({ viewer }).contextFactory(),
  });

  const send = (socket: WebSocket, message: Message) => {
    if (socket.readyState === socket.OPEN) socket.send(stringifyMessage(message));
  };
  const sendErrors = (socket: WebSocket, id: string, errors: readonly unknown[]) =>
    send(socket, { id, type: MessageType.Error, payload: errors.map((error) => maskError(error).toJSON()) });
  /** Something went wrong inside the server, not in the client's operation: logged (by the masking), then 4500. */
  const fail = (socket: WebSocket, error: unknown) => {
    maskError(error);
    socket.close(CloseCode.InternalServerError, 'Internal server error');
  };

  /** One client connection's protocol state. */
  interface Connection {
    socket: WebSocket;
    /** connection_init arrived (a second one is a protocol error). */
    initialised: boolean;
    /** Accepted and acknowledged: operations may start. */
    acknowledged: boolean;
    viewer: Viewer | null;
    /** Given to resolvers as `closeTransport` (bound once: a connection's every operation shares it). */
    close: (code: number, reason: string) => void;
    initWait: NodeJS.Timeout | undefined;
    awaitingPong: boolean;
    /**
     * Running operations. A list replaced on each change, not a Map by id or a growing array: a connection holds
     * one or a few (at most the limit), and an idle subscription's whole state is a few hundred bytes, of which
     * the spare capacity of either would be the largest part.
     */
    operations: readonly Operation[];
  }

  /**
   * One operation, from its validation until it ends, counted against its connection's allowance meanwhile. It is
   * also its subscription's delivery target, so a subscriber holds no callbacks of its own.
   */
  class Operation implements SubscriptionTarget {
    finished = false;
    /** Set once a subscription delivers. */
    delivering: Delivering | null = null;

    constructor(
      readonly connection: Connection,
      readonly id: string,
    ) {}

    get socket() {
      return this.connection.socket;
    }

    get viewer() {
      return this.connection.viewer;
    }

    /** Ends the bookkeeping once; false if it had already ended. */
    finish() {
      if (this.finished) return false;
      this.finished = true;
      this.connection.operations = this.connection.operations.filter((operation) => operation !== this);
      metrics.websocketSubscriptions.dec();
      return true;
    }

    /** The subscription's source ended by itself: complete, or the error it failed with. */
    ended(error?: unknown) {
      if (!this.finish()) return;
      if (error === undefined) send(this.socket, { id: this.id, type: MessageType.Complete });
      else sendErrors(this.socket, this.id, [error]);
    }

    /** The one result of a query, a mutation or a refused subscription, then complete. */
    answer(result: ExecutionResult) {
      if (!this.finish()) return;
      send(this.socket, { id: this.id, type: MessageType.Next, payload: result });
      send(this.socket, { id: this.id, type: MessageType.Complete });
    }

    /** Ends it from the server's side without a word to the client (it asked, or it is gone). */
    stop() {
      this.finish();
      this.delivering?.stop();
    }
  }

  async function initialise(connection: Connection, payload: Record<string, unknown> | undefined) {
    const { socket } = connection;
    if (connection.initialised) return socket.close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests');
    connection.initialised = true;
    clearTimeout(connection.initWait);
    connection.initWait = undefined;
    // Starting or stopping is not an auth failure (4403): 1013 tells clients to come back.
    if (!options.isReady()) return socket.close(1013, 'Try again later: the server is starting or stopping');
    const authorization = payload?.authorization;
    const viewer = await options.verify(typeof authorization === 'string' ? authorization : null).catch(() => null);
    if (!viewer && !options.openMode) return socket.close(CloseCode.Forbidden, 'Forbidden');
    connection.viewer = viewer;
    connection.acknowledged = true;
    send(socket, { type: MessageType.ConnectionAck });
  }

  function subscribe(connection: Connection, { id, payload }: SubscribeMessage) {
    const { socket } = connection;
    if (!connection.acknowledged) return socket.close(CloseCode.Unauthorized, 'Unauthorized');
    const { operations } = connection;
    if (operations.some((operation) => operation.id === id)) {
      return socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
    }
    if (operations.length >= limits.maxSubscriptionsPerConnection) {
      const refusal = new GraphQLError(`At most ${limits.maxSubscriptionsPerConnection} operations per connection`, {
        extensions: { code: 'RATE_LIMITED' },
      });
      return sendErrors(socket, id, [refusal]);
    }
    const pipeline = enveloped({ viewer: connection.viewer, closeTransport: connection.close, params: payload });
    // Limit rules (depth, aliases, cost) throw from validate rather than report: caught here, they answer this
    // operation with an error message instead of closing the whole connection.
    let document: DocumentNode | undefined;
    let errors: readonly GraphQLError[];
    try {
      document = pipeline.parse(payload.query);
      errors = pipeline.validate(pipeline.schema, document);
    } catch (error) {
      errors = [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
    }
    if (errors.length > 0 || !document) return sendErrors(socket, id, errors);
    const operationType = getOperationAST(document, payload.operationName)?.operation;
    if (!operationType) return sendErrors(socket, id, [new GraphQLError('Unable to identify operation')]);

    const operation = new Operation(connection, id);
    connection.operations = operations.concat(operation);
    metrics.websocketSubscriptions.inc();
    const args = { schema: pipeline.schema, document, operationName: payload.operationName, variableValues: payload.variables };
    const run = operationType === 'subscription' ? startSubscription : executeOnce;
    run(operation, args, pipeline).catch((error: unknown) => fail(socket, error));
  }

  type Pipeline = ReturnType<typeof enveloped>;

  /** A query or mutation: one result, then complete (unless the client completed it first). */
  async function executeOnce(operation: Operation, args: ExecutionArgs, pipeline: Pipeline) {
    operation.answer((await pipeline.execute({ ...args, contextValue: await pipeline.contextFactory() })) as ExecutionResult);
  }

  async function startSubscription(operation: Operation, args: ExecutionArgs, pipeline: Pipeline) {
    const started = await fanout.subscribe({ ...args, contextValue: await pipeline.contextFactory() }, operation);
    // Refused (e.g. FORBIDDEN from the resolver): its errors as the one result.
    if (!('stop' in started)) return operation.answer(started);
    if (operation.finished) started.stop();
    else operation.delivering = started;
  }

  // One set of listeners for all sockets (`this` is the socket): a connection costs its state, not closures.
  function onMessage(this: WebSocket, data: RawData) {
    const connection = connections.get(this);
    if (!connection) return;
    let message: Message;
    try {
      message = parseMessage(String(data));
    } catch {
      return this.close(CloseCode.BadRequest, 'Invalid message received');
    }
    switch (message.type) {
      case MessageType.ConnectionInit:
        return void initialise(connection, message.payload).catch((error: unknown) => fail(this, error));
      case MessageType.Ping:
        return send(this, message.payload ? { type: MessageType.Pong, payload: message.payload } : { type: MessageType.Pong });
      case MessageType.Pong:
        return;
      case MessageType.Subscribe:
        return subscribe(connection, message);
      case MessageType.Complete:
        // The client's complete: the operation ends without a reply.
        return connection.operations.find((operation) => operation.id === message.id)?.stop();
      default:
        return this.close(CloseCode.BadRequest, `Unexpected message of type ${message.type} received`);
    }
  }

  function onPong(this: WebSocket) {
    const connection = connections.get(this);
    if (connection) connection.awaitingPong = false;
  }

  function onClose(this: WebSocket) {
    const connection = connections.get(this);
    if (!connection) return;
    connections.delete(this);
    clearTimeout(connection.initWait);
    metrics.websocketConnections.dec();
    for (const operation of connection.operations) operation.stop();
  }

  // `ws` closes the socket itself on a protocol error (e.g. 1009 for a message above maxPayload); the listener
  // only keeps the error from being thrown at the process.
  const onError = () => undefined;

  const closeUninitialised = (socket: WebSocket) => {
    if (!connections.get(socket)?.initialised) socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
  };

  wss.options.handleProtocols = handleProtocols;
  wss.on('connection', (socket) => {
    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) return socket.close(CloseCode.SubprotocolNotAcceptable, 'Subprotocol not acceptable');
    metrics.websocketConnections.inc();
    const initWait = setTimeout(closeUninitialised, INIT_WAIT_MS, socket);
    const close = socket.close.bind(socket);
    connections.set(socket, { socket, initialised: false, acknowledged: false, viewer: null, close, initWait, awaitingPong: false, operations: [] });
    socket.on('message', onMessage).on('pong', onPong).on('error', onError).once('close', onClose);
  });

  const keepAlive = setInterval(() => {
    for (const socket of wss.clients) {
      const connection = connections.get(socket);
      if (!connection) continue;
      if (connection.awaitingPong) {
        socket.terminate();
        continue;
      }
      connection.awaitingPong = true;
      socket.ping();
    }
  }, KEEP_ALIVE_MS).unref();

  return {
    /** Closes every connection with 1001 Going Away and resolves once all are closed. */
    async dispose() {
      clearInterval(keepAlive);
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
