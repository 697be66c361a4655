import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import { ERROR_STATUS, type ErrorCode, errorCode, type Logger } from '@tenantgraph/core';
import { activeTraceId, inServerSpan, withSpan } from '@tenantgraph/telemetry';
import type { GraphQLError } from 'graphql';
import { inRequest, type RequestRecord } from './observe.ts';

/** Requests bodies larger than this are refused with 413 before they are parsed. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A GraphQL request as it reaches the executor: the parsed JSON body (POST) or the query string (GET). */
export type GraphQLRequestParts = { method: string; body: unknown; search: string };

/** One GraphQL request over HTTP, authenticated and its body parsed. */
export type HttpGraphQLRequest = GraphQLRequestParts & { headers: IncomingHttpHeaders };

/** Its answer: a status, headers, and the body as one string or in chunks (incremental delivery). */
export type HttpGraphQLResponse = {
  status: number;
  headers?: Iterable<[string, string]>;
  body: string | AsyncIterable<string>;
};

/** Runs one GraphQL request: Apollo Server's pipeline (`apolloExecutor`) or a subgraph's lean one (`createExecutor`). */
export type GraphQLExecutor<C> = (request: HttpGraphQLRequest, context: C) => Promise<HttpGraphQLResponse>;

/**
 * An Apollo Server instance as an executor: its whole pipeline (content negotiation, GET, CSRF
 * prevention, persisted queries, plugins) runs for every request.
 */
export function apolloExecutor<C extends BaseContext>(apollo: ApolloServer<C>): GraphQLExecutor<C> {
  return async (request, context) => {
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: request.method, headers, search: request.search, body: request.body },
      context: async () => context,
    });
    return {
      status: response.status ?? 200,
      headers: response.headers,
      body: response.body.kind === 'complete' ? response.body.string : response.body.asyncIterator,
    };
  };
}

export type GraphQLHttpOptions<C extends BaseContext> = {
  execute: GraphQLExecutor<C>;
  logger: Logger;
  /**
   * Runs on the headers alone, before the body is read: verifies the caller and builds the
   * request context, which carries `record` (see `noteTenant`) to whatever fills it in later.
   * A GraphQLError with an HTTP status (401, 403) ends the request there.
   * `closed` is aborted with the reason `'caller gone'` when the client goes away before its
   * answer, and with `deadlineMs`, with `'deadline'` once that much time has passed. An answered
   * request's signal is left as it is: aborting it would dispatch an event nobody waits for.
   */
  authenticate(req: IncomingMessage, record: RequestRecord, closed: AbortSignal): Promise<C>;
  /**
   * A request not answered this long after it arrived has its `closed` signal aborted with
   * `'deadline'` (and a warning logged): its work stops there. Unset: no deadline.
   */
  deadlineMs?: number;
  /**
   * Admission, once the body is read: waits for the request's turn (fair share between tenants)
   * and resolves with the release, called once the answer is sent or the request failed.
   * Throws TOO_MANY_REQUESTS to refuse. `signal` aborts when the client goes away while waiting.
   */
  admit?(context: C, signal: AbortSignal): Promise<() => void>;
  /** Extra routes by "METHOD /path", e.g. "GET /health". */
  routes?: Record<string, Route>;
  /**
   * Runs first on every request, before routing and authentication (CORS, a page for browsers):
   * may set response headers, and answers the request itself when it returns true. Must not throw.
   */
  intercept?(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Rewrites an authenticated GraphQL request before it is parsed (trusted documents):
   * `body` for POST, `search` for GET. Throwing an error with a code refuses the request.
   */
  prepare?(request: GraphQLRequestParts, context: C): GraphQLRequestParts;
  maxBodyBytes?: number;
  /** Headers set on every GraphQL response. */
  responseHeaders?: Record<string, string>;
  /** A larger GraphQL answer is replaced by a QUERY_TOO_EXPENSIVE error (unset: no cap). */
  maxResponseBytes?: number;
  /** Once each GraphQL request is answered (or its caller gone): its record, HTTP status and duration (metrics). */
  onFinish?(record: RequestRecord, status: number, seconds: number): void;
};

/** The request id: the caller's `x-request-id` when it looks like one, a new UUID otherwise. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
}

/**
 * A `node:http` server for a GraphQL executor: `/graphql` (POST and GET) plus extra routes.
 * Authentication happens on the headers, before any body is read or parsed.
 */
export function createGraphQLHttpServer<C extends BaseContext>(options: GraphQLHttpOptions<C>): Server {
  const { execute: executeRequest, logger, routes = {}, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, responseHeaders = {} } = options;

  /**
   * Every GraphQL request runs in its server span (when tracing) with its record (tenant,
   * operation, outcome: see `inRequest`) and ends with one access line, `request`, whatever became of it.
   */
  const handleGraphQL = (req: IncomingMessage, res: ServerResponse) => inServerSpan(req, res, () => recordGraphQL(req, res));

  const recordGraphQL = (req: IncomingMessage, res: ServerResponse) => {
    const record: RequestRecord = { requestId: requestIdOf(req), start: performance.now(), traceId: activeTraceId() };
    // One signal, one timer and one listener per request: the caller gone, or the deadline.
    const closed = new AbortController();
    const timer = options.deadlineMs === undefined ? undefined : setTimeout(stop, options.deadlineMs, closed, record, 'deadline');
    res.once('close', () => {
      clearTimeout(timer);
      const seconds = (performance.now() - record.start) / 1000;
      const status = res.writableFinished ? res.statusCode : 499;
      if (!res.writableFinished) stop(closed, record, 'caller gone');
      options.onFinish?.(record, status, seconds);
      logger.info('request', {
        requestId: record.requestId,
        tenant: record.tenantId,
        operation: record.operationName,
        type: record.operationType,
        status,
        code: record.code,
        durationMs: Math.round(seconds * 10_000) / 10,
        traceId: record.traceId,
      });
    });
    return inRequest(record, () => serveGraphQL(req, res, record, closed));
  };

  const serveGraphQL = async (req: IncomingMessage, res: ServerResponse, record: RequestRecord, closed: AbortController) => {
    res.setHeader('x-request-id', record.requestId);
    let context: C;
    try {
      context = await options.authenticate(req, record, closed.signal);
    } catch (error) {
      return sendError(res, error, logger, record);
    }
    let body: unknown;
    if (req.method === 'POST') {
      const text = await readBody(req, maxBodyBytes).catch(() => undefined);
      if (text === undefined) return sendBadRequest(res, 413, 'Request body too large.', record);
      try {
        body = JSON.parse(text);
      } catch {
        return sendBadRequest(res, 400, 'The request body is not valid JSON.', record);
      }
    }
    let release = () => {};
    if (options.admit) {
      try {
        release = await options.admit(context, closed.signal);
      } catch (error) {
        // A client that left while waiting needs no answer.
        return closed.signal.aborted ? undefined : sendError(res, error, logger, record);
      }
    }
    try {
      // The service's own span for the operation: the plugin names it once the operation is parsed.
      await withSpan('graphql.operation', {}, () => execute(req, res, context, body, record));
    } finally {
      release();
    }
  };

  const execute = async (req: IncomingMessage, res: ServerResponse, context: C, body: unknown, record: RequestRecord) => {
    const query = req.url?.indexOf('?') ?? -1;
    const search = query === -1 ? '' : req.url!.slice(query);
    let request: GraphQLRequestParts = { method: req.method ?? 'GET', body, search };
    try {
      if (options.prepare) request = options.prepare(request, context);
    } catch (error) {
      return sendError(res, error, logger, record);
    }
    const response = await executeRequest({ ...request, headers: req.headers }, context);
    for (const [name, value] of response.headers ?? []) res.setHeader(name, value);
    for (const [name, value] of Object.entries(responseHeaders)) res.setHeader(name, value);
    res.statusCode = response.status;
    if (typeof response.body === 'string') {
      const size = options.maxResponseBytes === undefined ? 0 : Buffer.byteLength(response.body);
      if (options.maxResponseBytes !== undefined && size > options.maxResponseBytes) {
        logger.warn('response over the size cap', { requestId: record.requestId, bytes: size, limit: options.maxResponseBytes });
        return sendJson(res, 200, { data: null, errors: [responseTooLarge(size, options.maxResponseBytes)] });
      }
      res.end(response.body);
    } else {
      for await (const chunk of response.body) res.write(chunk);
      res.end();
    }
  };

  /**
   * Ends an unanswered request's work with `reason` (the first reason stays). A server with a
   * deadline (a subgraph) logs it: its caller, the gateway, gave up, or time ran out.
   */
  const stop = (closed: AbortController, record: RequestRecord, reason: 'caller gone' | 'deadline') => {
    if (closed.signal.aborted) return;
    closed.abort(reason);
    if (options.deadlineMs === undefined) return;
    logger.warn('request stopped before its answer', {
      requestId: record.requestId,
      tenant: record.tenantId,
      reason,
      deadlineMs: options.deadlineMs,
    });
  };

  const server = createServer({ maxHeaderSize: 16_384 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = routes[`${req.method} ${path}`];
    const work = options.intercept?.(req, res)
      ? undefined
      : route
        ? route(req, res)
        : path === '/graphql'
          ? handleGraphQL(req, res)
          : notFound(res);
    Promise.resolve(work).catch((error: unknown) => {
      logger.error('request failed', { error, path });
      if (!res.headersSent)
        sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    });
  });
  // Idle keep-alive connections are closed by the client first (the gateway's agent lets go after
  // 30 s): a server closing a socket the client is just reusing turns into "socket hang up".
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  return server;
}

/** The client's view of an answer over `maxResponseBytes`: QUERY_TOO_EXPENSIVE with the sizes. */
function responseTooLarge(bytes: number, limit: number) {
  const message = `The answer is ${bytes} bytes, over this service's limit of ${limit} bytes; ask for fewer items.`;
  return { message, extensions: { code: 'QUERY_TOO_EXPENSIVE' satisfies ErrorCode, cost: bytes, limit } };
}

/** How long the servers keep an idle connection open; clients must let go sooner. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Answers with the error's code and HTTP status; anything unexpected is logged and masked. */
function sendError(res: ServerResponse, error: unknown, logger: Logger, record: RequestRecord) {
  const code = errorCode(error);
  record.code = code && code in ERROR_STATUS ? code : 'INTERNAL_SERVER_ERROR';
  if (code && code in ERROR_STATUS && code !== 'INTERNAL_SERVER_ERROR') {
    const status = ERROR_STATUS[code as ErrorCode];
    const retryAfter = (error as GraphQLError).extensions?.retryAfterSeconds;
    if (typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
    return sendJson(res, status === 200 ? 400 : status, {
      errors: [{ message: (error as GraphQLError).message, extensions: { code } }],
    });
  }
  logger.error('request failed before execution', { error, requestId: record.requestId });
  return sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
}

function sendBadRequest(res: ServerResponse, status: number, message: string, record: RequestRecord) {
  record.code = 'BAD_REQUEST';
  sendJson(res, status, { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
}

export function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function notFound(res: ServerResponse) {
  sendJson(res, 404, { error: 'not found' });
}

export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      return reject(new Error('body too large'));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new Error('body too large'));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Listens and resolves with the bound port (0 picks a free one). */
export async function listen(server: Server, port: number, host = '0.0.0.0'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes the rest. */
export function closeGracefully(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    // Keep-alive connections that finish their request after `close` would otherwise linger
    // until their keep-alive timeout: close each as soon as it is idle.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    sweep.unref();
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
