import { type Viewer, isTenantId, unauthenticated } from '@tenantgraph/core';
import { type JWTVerifyGetKey, type JWK, createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';

/** Asymmetric algorithms only: never `none`, never HMAC (a public key must not become a secret). */
export const ALLOWED_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

/** Tokens longer than this are refused before any parsing. */
const MAX_TOKEN_LENGTH = 8_192;

export type VerifierOptions = {
  issuer: string;
  audience: string;
  /** The identity provider's JWKS (`AUTH_JWKS_URL`) ... */
  jwksUrl?: string;
  /** ... or the keys themselves (the development issuer, tests). */
  jwks?: { keys: JWK[] };
  /** Seconds of clock skew accepted on `exp`, `nbf` and `iat`. */
  clockToleranceSeconds?: number;
};

export type TokenVerifier = {
  /** The viewer behind an `Authorization` header; throws UNAUTHENTICATED (401) otherwise. */
  verify(authorization: string | undefined | null): Promise<Viewer>;
};

/**
 * One verification for the gateway and every subgraph: explicit algorithms, issuer, audience,
 * required `exp` and `tenant`, and a tenant id of the expected shape. Any failure, whatever
 * jose throws, becomes UNAUTHENTICATED.
 *
 * Remote keys are cached without expiry and refetched only for an unknown `kid` (at most once
 * per 30 s), so an outage of the identity provider leaves the known keys working.
 * Header parameters that point elsewhere (`jku`, `x5u`, an embedded `jwk`) are never followed:
 * only the configured key set is consulted.
 *
 * @example
 * const verifier = createTokenVerifier({ issuer, audience, jwksUrl: process.env.AUTH_JWKS_URL })
 * const viewer = await verifier.verify(request.headers.authorization)
 */
export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const keys = keySet(options);
  const clockTolerance = options.clockToleranceSeconds ?? 5;
  return {
    async verify(authorization) {
      const token = bearerToken(authorization);
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          algorithms: [...ALLOWED_ALGORITHMS],
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['exp', 'tenant'],
          clockTolerance,
        }));
      } catch {
        throw unauthenticated('The bearer token is invalid or expired.');
      }
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + clockTolerance) {
        throw unauthenticated('The bearer token was issued in the future.');
      }
      const tenantId = payload.tenant;
      if (!isTenantId(tenantId)) throw unauthenticated('The bearer token names no valid tenant.');
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      return {
        subject: typeof payload.sub === 'string' ? payload.sub : 'anonymous',
        tenantId,
        scopes: scope.split(' ').filter(Boolean),
        token,
      };
    },
  };
}

function keySet(options: VerifierOptions): JWTVerifyGetKey {
  if (options.jwks) return createLocalJWKSet(options.jwks);
  if (!options.jwksUrl) throw new Error('createTokenVerifier needs jwksUrl or jwks');
  return createRemoteJWKSet(new URL(options.jwksUrl), {
    cacheMaxAge: Number.POSITIVE_INFINITY,
    cooldownDuration: 30_000,
    timeoutDuration: 3_000,
  });
}

function bearerToken(authorization: string | undefined | null): string {
  if (!authorization) throw unauthenticated();
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization);
  if (!match?.[1] || match[1].length > MAX_TOKEN_LENGTH) throw unauthenticated('Expected "Authorization: Bearer <token>".');
  return match[1];
}
