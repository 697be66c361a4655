import type { IncomingMessage, ServerResponse } from 'node:http';

/** Request headers a browser may send cross-origin: what the API reads, nothing more. */
const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'apollo-require-preflight', 'traceparent', 'x-request-id'];
/** Response headers a cross-origin script may read. */
const EXPOSED_HEADERS = ['x-request-id', 'retry-after'];
// Browsers cache a successful preflight this long (Chromium caps it at 2 hours).
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for web apps on other origins, by an exact allow-list (`https://app.example.com`; `*`
 * for any origin, then never with credentials). A request from an origin not on the list gets
 * no CORS headers, so the browser keeps the answer from the page; a preflight from one is
 * refused with 403. Same-origin requests (the explorer) need no CORS and are left alone.
 * Returns true when it has answered the request (a preflight).
 */
export function cors(origins: readonly string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const exact = new Set(origins.filter((origin) => origin !== '*'));
  const anyOrigin = origins.includes('*');
  return (req, res) => {
    const origin = req.headers.origin;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (origin === undefined) return false;
    res.setHeader('vary', 'origin');
    if (exact.has(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      // Tokens travel in `authorization`, but a client may still send credentials: allowed for a listed origin only.
      res.setHeader('access-control-allow-credentials', 'true');
    } else if (anyOrigin) {
      res.setHeader('access-control-allow-origin', '*');
    } else {
      if (!preflight) return false;
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('Origin not allowed.\n');
      return true;
    }
    if (!preflight) {
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS.join(', '));
      return false;
    }
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': CORS_ALLOWED_HEADERS.join(', '),
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
      'content-length': '0',
    });
    res.end();
    return true;
  };
}
