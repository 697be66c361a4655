import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/** Issuer and audience of the development issuer used when `AUTH_JWKS_URL` is unset. */
export const DEV_ISSUER = 'https://dev-issuer.tenantgraph.local/';
export const DEV_AUDIENCE = 'tenantgraph-api';

export type TokenClaims = {
  tenant: string;
  scopes?: readonly string[];
  subject?: string;
  /** Lifetime in seconds (default one hour). */
  ttlSeconds?: number;
  /** Extra claims, or overrides, for tests that need odd tokens. */
  extra?: Record<string, unknown>;
};

/** A key pair that signs tokens (RS256) and publishes its public half as a JWKS. */
export type Issuer = {
  issuer: string;
  audience: string;
  jwks: { keys: JWK[] };
  sign(claims: TokenClaims): Promise<string>;
};

/** An issuer with a fresh key pair, in memory (tests). */
export async function createIssuer(issuer = DEV_ISSUER, audience = DEV_AUDIENCE): Promise<Issuer> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return issuerFromJwk(await exportJWK(privateKey), randomUUID(), issuer, audience);
}

/**
 * The development issuer: its key pair is kept in `dir` (under `.data/`), created on first use,
 * so `pnpm token` and `pnpm start` agree across runs.
 */
export async function loadDevIssuer(dir: string): Promise<Issuer> {
  const file = join(dir, 'dev-issuer.private.jwk.json');
  let stored: { kid: string; jwk: JWK };
  try {
    stored = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    stored = { kid: randomUUID(), jwk: await exportJWK(privateKey) };
    await mkdir(dir, { recursive: true });
    await writeFile(file, JSON.stringify(stored), { mode: 0o600, flag: 'wx' }).catch(async () => {
      // Another process created it first: use theirs.
      stored = JSON.parse(await readFile(file, 'utf8'));
    });
  }
  return issuerFromJwk(stored.jwk, stored.kid, DEV_ISSUER, DEV_AUDIENCE);
}

async function issuerFromJwk(privateJwk: JWK, kid: string, issuer: string, audience: string): Promise<Issuer> {
  const privateKey = await importJWK(privateJwk, 'RS256');
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
  return {
    issuer,
    audience,
    jwks: { keys: [{ ...publicJwk, kid, alg: 'RS256', use: 'sig' }] },
    async sign({ tenant, scopes = [], subject = `user@${tenant}`, ttlSeconds = 3600, extra = {} }) {
      return new SignJWT({ tenant, scope: scopes.join(' '), ...extra })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(privateKey);
    },
  };
}

/**
 * Serves an issuer's JWKS at `/.well-known/jwks.json` on 127.0.0.1, as an identity provider
 * would, so services verify through the same remote path as in production.
 */
export async function serveJwks(issuer: Pick<Issuer, 'jwks'>, port = 0) {
  const body = JSON.stringify(issuer.jwks);
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${boundPort}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
