import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { ApolloGateway } from '@apollo/gateway';
import type { ApolloServer } from '@apollo/server';
import { appError, errorCode, isClientErrorCode, type Logger, unauthenticated } from '@tenantgraph/core';
import { inRequest, type ListSizes, listSizesOf, type Metrics, maskError, type RequestRecord, requestIdOf } from '@tenantgraph/server-kit';
import type { GraphQLError, GraphQLFormattedError, ValidationRule } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { type Extra, useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { QueryBudgets } from '../budget.ts';
import type { GatewayContext } from '../context.ts';
import type { TenantEvent, TenantEventSource } from './events.ts';
import { createFanOut, DeliveryQueue, type DeliveryResult, type Subscriber } from './fan-out.ts';
import type { SubscriptionLimits } from './limits.ts';
import { lookupVariables, type PreparedSubscription, parseDocument, prepareSubscription, subscriptionResult } from './operation.ts';

type SubscriptionServerOptions = {
  /** The gateway's HTTP server: WebSocket upgrades on `path` are served here, on the same port. */
  http: Server;
  path?: string;
  gateway: ApolloGateway;
  /** Each event is resolved through this server's `executeOperation`: the plugins, limits and budget of any query. */
  apollo: ApolloServer<GatewayContext>;
  events: TenantEventSource;
  /** The HTTP path's authentication (token, registry, rate limit): throws an error with a code to refuse. */
  authenticate(authorization: string | undefined, requestId: string): Promise<GatewayContext>;
  /** Takes one request from the tenant's rate limit; throws TOO_MANY_REQUESTS when it is spent. */
  takeRequest(context: GatewayContext): Promise<void>;
  metrics?: Metrics;
  validationRules: readonly ValidationRule[];
  maxTokens: number;
  budgets: QueryBudgets;
  limits: SubscriptionLimits;
  logger: Logger;
};

type Session = {
  context: GatewayContext;
  /** When the token expires (ms since epoch). */
  expiresAt: number;
  expired: boolean;
  closed: boolean;
  subscriptions: Map<string, DeliveryQueue>;
  /** Subscriptions whose last message (an error, or completion) is not yet sent. */
  sending: number;
  /** Subscriptions counted against the per-connection cap, those being set up included. */
  reserved: number;
  timer?: NodeJS.Timeout;
  extra: SocketExtra;
};

type SocketExtra = Extra & { session?: Session };
type SubscriberState = { session: Session; prepared: PreparedSubscription };
type Operation = { id: string; session: Session; prepared: PreparedSubscription };

// graphql-ws (loaded by Node, never transformed) takes errors only as instances of the GraphQLError
// of the graphql it imports: the CommonJS build, which is what `require` gives here too.
const { GraphQLError: WsGraphQLError } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** Close codes beyond graphql-ws's own: the client should retry later (server stopping or overloaded, slow reader). */
const GOING_AWAY = 1001;
const TRY_AGAIN_LATER = 1013;
/** The longest a timer may wait (about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Subscriptions over WebSocket (graphql-transport-ws) on the gateway's port and path. The token in
 * `connectionParams.authorization` goes through the HTTP path's authentication, and a refused one
 * closes the socket (4401, 4403 for an unknown tenant, 4429 over the rate limit) before anything
 * is subscribed. The tenant is the verified token's, nothing else: each subscription listens to
 * that tenant's events and resolves each event's entity by a lookup query through the federated
 * path, as the subscriber. When the token expires, each open subscription ends with
 * UNAUTHENTICATED and the socket closes with 4401.
 */
export function createSubscriptionServer(options: SubscriptionServerOptions) {
  const { limits, logger, gateway, apollo } = options;
  const path = options.path ?? '/graphql';
  let listSizes: ListSizes = new Map();
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
    listSizes = listSizesOf(parseDocument(coreSupergraphSdl));
  });
  const openByTenant = new Map<string, number>();
  const inFlight = new Set<Promise<DeliveryResult>>();
  const sessions = new Set<Session>();
  let stopping = false;

  const fanOut = createFanOut<SubscriberState>({ events: options.events, logger, resolve: (event, group) => track(resolve(event, group)) });

  const track = (delivery: Promise<DeliveryResult>) => {
    inFlight.add(delivery);
    void delivery.finally(() => inFlight.delete(delivery));
    return delivery;
  };

  /** One event's answer for a group of subscribers with the same selection, resolved as the one whose token lasts longest. */
  async function resolve(event: TenantEvent, group: readonly Subscriber<SubscriberState>[]): Promise<DeliveryResult> {
    const { session, prepared } = group.reduce((best, next) =>
      next.state.session.expiresAt > best.state.session.expiresAt ? next : best,
    ).state;
    const requestId = randomUUID();
    // One lookup is one request of its tenant: in its metrics (outcome, duration) and spans, like an HTTP one.
    const record: RequestRecord = { requestId, start: performance.now(), tenantId: session.context.viewer.tenantId };
    const context: GatewayContext = { ...session.context, requestId, record };
    try {
      await options.takeRequest(context);
      // The lookup is admitted like any query, by the budget plugin once its cost is known.
      const run = () =>
        apollo.executeOperation(
          { query: prepared.lookup, variables: lookupVariables(prepared, event.entityId), operationName: 'SubscriptionEvent' },
          { contextValue: context },
        );
      const response = await inRequest(record, run);
      options.metrics?.observeRequest(record, 200, (performance.now() - record.start) / 1000);
      if (response.body.kind !== 'single') throw new Error('a lookup answered incrementally');
      return subscriptionResult(prepared, response.body.singleResult);
    } catch (error) {
      if (!isClientErrorCode(errorCode(error))) context.logger.error('resolving a subscription event failed', { error, event: event.id });
      return { data: null, errors: [maskError((error as GraphQLError).toJSON?.() ?? { message: String(error) })] };
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  const onUpgrade = (req: Parameters<WebSocketServer['handleUpgrade']>[0], socket: import('node:stream').Duplex, head: Buffer) => {
    const pathname = new URL(req.url ?? '/', 'http://gateway').pathname;
    if (pathname !== path || stopping) {
      socket.end(`HTTP/1.1 ${stopping ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  options.http.on('upgrade', onUpgrade);

  const refuse = (extra: SocketExtra, error: unknown) => {
    const code = errorCode(error);
    const [closeCode, reason] =
      code === 'UNAUTHENTICATED'
        ? [CloseCode.Unauthorized, 'Unauthorized: a valid bearer token is required in connectionParams.authorization']
        : code === 'UNKNOWN_TENANT'
          ? [CloseCode.Forbidden, 'Forbidden: the tenant named by the token is not registered']
          : code === 'TOO_MANY_REQUESTS'
            ? [4429, 'Too many requests for this tenant; retry later']
            : [TRY_AGAIN_LATER, 'Service unavailable; retry later'];
    if (!isClientErrorCode(code)) logger.error('authenticating a WebSocket failed', { error });
    extra.socket.close(closeCode, reason);
  };

  /** Ends every subscription of an expired token with UNAUTHENTICATED, then closes the socket (once those errors are sent). */
  const expire = (extra: SocketExtra, session: Session) => {
    session.expired = true;
    for (const queue of session.subscriptions.values()) queue.fail(unauthenticated('The token expired; reconnect with a fresh token.'));
    closeIfExpired(extra, session);
  };
  const closeIfExpired = (extra: SocketExtra, session: Session) => {
    if (session.expired && session.sending === 0) extra.socket.close(CloseCode.Unauthorized, 'Unauthorized: the token expired');
  };

  /** A client that does not read its messages is disconnected instead of buffered without bound. */
  const drop = (extra: SocketExtra, session: Session) => {
    if (session.closed) return;
    session.closed = true;
    logger.warn('slow subscriber disconnected', { tenant: session.context.viewer.tenantId, requestId: session.context.requestId });
    extra.socket.close(TRY_AGAIN_LATER, 'Too slow: messages were not read in time');
    // A client that reads nothing does not read the close frame either.
    setTimeout(() => extra.socket.terminate(), 1_000).unref();
  };

  const reserve = (session: Session): GraphQLError | undefined => {
    const { plan, viewer } = session.context;
    const perConnection = limits.perConnection[plan] ?? limits.perConnection.FREE;
    const perTenant = limits.perTenant[plan] ?? limits.perTenant.FREE;
    if (session.reserved >= perConnection) {
      return appError('TOO_MANY_REQUESTS', `At most ${perConnection} subscriptions may be open on one connection for this plan.`);
    }
    const open = openByTenant.get(viewer.tenantId) ?? 0;
    if (open >= perTenant)
      return appError('TOO_MANY_REQUESTS', `At most ${perTenant} subscriptions may be open for this tenant; retry later.`);
    openByTenant.set(viewer.tenantId, open + 1);
    session.reserved++;
    return undefined;
  };
  const unreserve = (session: Session) => {
    const tenantId = session.context.viewer.tenantId;
    session.reserved--;
    const open = (openByTenant.get(tenantId) ?? 1) - 1;
    if (open > 0) openByTenant.set(tenantId, open);
    else openByTenant.delete(tenantId);
  };

  async function subscribe(operation: Operation): Promise<AsyncIterableIterator<DeliveryResult> | DeliveryResult> {
    const { id, session, prepared } = operation;
    const { viewer } = session.context;
    let removeSubscriber = () => {};
    const queue = new DeliveryQueue(
      limits.maxQueuedPerSubscription,
      () => drop(session.extra, session),
      () => {
        removeSubscriber();
        session.subscriptions.delete(id);
        unreserve(session);
      },
    );
    session.subscriptions.set(id, queue);
    try {
      removeSubscriber = await fanOut.add({
        tenantId: viewer.tenantId,
        eventType: prepared.eventType,
        groupKey: `${prepared.lookup}\n${JSON.stringify(prepared.variables)}\n${[...viewer.scopes].sort().join(' ')}`,
        state: { session, prepared },
        deliver(result) {
          if (session.extra.socket.bufferedAmount > limits.maxBufferedBytes) return drop(session.extra, session);
          queue.push(result);
        },
      });
    } catch (error) {
      session.context.logger.error('subscribing to the tenant events failed', { error });
      await queue.return();
      return {
        data: null,
        errors: [{ message: 'Subscriptions are unavailable; retry later.', extensions: { code: 'SERVICE_UNAVAILABLE' } }],
      };
    }
    if (session.closed || session.expired) await queue.return();
    return queue;
  }

  const graphqlWs = useServer<Record<string, unknown> | undefined, { session?: Session }>(
    {
      async onConnect(ctx) {
        const extra = ctx.extra as SocketExtra;
        const authorization = ctx.connectionParams?.authorization;
        let context: GatewayContext;
        try {
          context = await options.authenticate(typeof authorization === 'string' ? authorization : undefined, requestIdOf(extra.request));
        } catch (error) {
          refuse(extra, error);
          return false;
        }
        const expiresAt = expiryOf(context.viewer.token);
        const session: Session = {
          context,
          expiresAt,
          expired: false,
          closed: false,
          subscriptions: new Map(),
          sending: 0,
          reserved: 0,
          extra,
        };
        session.timer = setTimeout(() => expire(extra, session), Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())));
        session.timer.unref();
        extra.session = session;
        sessions.add(session);
        return true;
      },
      async onSubscribe(ctx, id, payload) {
        const session = (ctx.extra as SocketExtra).session;
        if (!session || session.expired) return refusal([unauthenticated('The token expired; reconnect with a fresh token.')]);
        if (stopping) return refusal([appError('SERVICE_UNAVAILABLE', 'The gateway is stopping; reconnect.')]);
        try {
          await options.takeRequest(session.context);
        } catch (error) {
          return refusal([error as GraphQLError]);
        }
        const { plan } = session.context;
        const prepared = prepareSubscription({
          schema: gateway.schema!,
          query: payload.query,
          operationName: payload.operationName,
          variables: payload.variables,
          validationRules: options.validationRules,
          maxTokens: options.maxTokens,
          listSizes,
          budget: options.budgets[plan] ?? options.budgets.FREE,
        });
        if (!('document' in prepared)) return refusal(prepared);
        const refused = reserve(session);
        if (refused) return refusal([refused]);
        session.sending++;
        return {
          schema: gateway.schema!,
          document: prepared.document,
          contextValue: { id, session, prepared: prepared as PreparedSubscription } satisfies Operation,
        };
      },
      // Answers are formatted already (by the lookup's formatError); onNext sends them as they are.
      subscribe: (args) => subscribe(args.contextValue as Operation) as Promise<never>,
      execute: () => ({ errors: [appError('BAD_USER_INPUT', 'Only subscriptions are served over WebSocket.')] }),
      onNext: (_ctx, _id, _payload, _args, result) => result as DeliveryResult as never,
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => maskError(toFormatted(error))),
      onComplete(ctx) {
        const session = (ctx.extra as SocketExtra).session;
        if (!session) return;
        session.sending = Math.max(0, session.sending - 1);
        closeIfExpired(ctx.extra as SocketExtra, session);
      },
      onClose(ctx) {
        const session = (ctx.extra as SocketExtra).session;
        if (!session) return;
        session.closed = true;
        sessions.delete(session);
        clearTimeout(session.timer);
        for (const queue of session.subscriptions.values()) void queue.return();
      },
    },
    wss,
    limits.keepAliveMs > 0 ? limits.keepAliveMs : Number.POSITIVE_INFINITY,
  );

  return {
    /** Open subscriptions in this process: in all, and of one tenant. */
    stats: (tenantId?: string) => fanOut.count(tenantId),
    /**
     * Refuses new sockets and subscriptions, lets the deliveries being resolved reach their
     * clients (up to `graceMs`), then closes every socket with 1001 and the event transport.
     */
    async close(graceMs = 5_000) {
      stopping = true;
      const deadline = Date.now() + graceMs;
      while ((inFlight.size > 0 || queuesPending()) && Date.now() < deadline) {
        await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => setTimeout(resolve, 50))]);
      }
      for (const client of wss.clients) client.close(GOING_AWAY, 'The gateway is stopping; reconnect');
      await graphqlWs.dispose();
      options.http.off('upgrade', onUpgrade);
      await options.events.close();
    },
  };

  /** Answers not yet handed to a socket, or handed and not yet written. */
  function queuesPending() {
    for (const session of sessions) {
      if (session.closed) continue;
      if (session.extra.socket.bufferedAmount > 0) return true;
      for (const queue of session.subscriptions.values()) if (queue.size > 0) return true;
    }
    return false;
  }
}

/**
 * Errors as graphql-ws takes them from `onSubscribe`: instances of the GraphQLError of the graphql
 * it imports (the errors may come from the other build), masked like any answer.
 */
function refusal(errors: readonly (GraphQLError | GraphQLFormattedError)[]): GraphQLError[] {
  return errors.map((error) => {
    const { message, extensions } = maskError(toFormatted(error));
    return new WsGraphQLError(message, { extensions });
  });
}

function toFormatted(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  return typeof (error as GraphQLError).toJSON === 'function' ? (error as GraphQLError).toJSON() : error;
}

/** The `exp` of a token already verified, in ms; a token without one (never accepted) expires now. */
function expiryOf(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : Date.now();
  } catch {
    return Date.now();
  }
}
