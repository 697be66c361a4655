import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Route } from '@tenantgraph/server-kit';

/** Where `pnpm build:explorer` (and the install) writes the bundled explorer. */
const EXPLORER_DIST = fileURLToPath(new URL('../explorer/dist/', import.meta.url));

const ASSETS = { 'explorer.js': 'text/javascript; charset=utf-8', 'explorer.css': 'text/css; charset=utf-8' } as const;

// Everything the page loads comes from the gateway itself; GraphiQL's editor sets inline styles.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tenantgraph explorer</title>
<link rel="stylesheet" href="/explorer/explorer.css">
</head>
<body>
<div id="explorer"></div>
<script src="/explorer/explorer.js"></script>
</body>
</html>
`;

const NOT_BUILT = `The explorer is not built on this machine. Run: npx pnpm@10 build:explorer\n`;

/**
 * GraphiQL, served by the gateway from files bundled at install time (no CDN): a browser's
 * `GET /graphql` (one that accepts text/html) gets the page, before any authentication; the
 * page's own requests carry the token typed into it and pass the CSRF check
 * (`content-type: application/json`).
 */
export function createExplorer(dist = EXPLORER_DIST) {
  const files = new Map<string, Buffer>();
  const read = (name: keyof typeof ASSETS) => {
    let file = files.get(name);
    if (!file) {
      file = readFileSync(`${dist}${name}`);
      files.set(name, file);
    }
    return file;
  };
  const asset =
    (name: keyof typeof ASSETS): Route =>
    (_req, res) => {
      let body: Buffer;
      try {
        body = read(name);
      } catch {
        return void res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(NOT_BUILT);
      }
      res.writeHead(200, { 'content-type': ASSETS[name], 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' }).end(body);
    };
  return {
    /** Answers a browser's page request for /graphql; everything else goes on to the API. */
    page(req: IncomingMessage, res: ServerResponse): boolean {
      if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/graphql' || !prefersHtml(req)) return false;
      try {
        read('explorer.js');
      } catch {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(NOT_BUILT);
        return true;
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(PAGE);
      return true;
    },
    routes: {
      'GET /explorer/explorer.js': asset('explorer.js'),
      'GET /explorer/explorer.css': asset('explorer.css'),
    } satisfies Record<string, Route>,
  };
}

/** A browser navigating (`Accept: text/html,...`), not a GraphQL client asking for JSON. */
function prefersHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html') && !/^application\/(graphql-response\+)?json/.test(accept);
}
