import { isTenantId, unauthenticated, type Viewer } from '@tenantgraph/core';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWK, type JWTVerifyGetKey, jwtVerify } from 'jose';

/** Asymmetric algorithms only: never `none`, never HMAC (a public key must not become a secret). */
export const ALLOWED_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

/** Tokens longer than this are refused before any parsing. */
const MAX_TOKEN_LENGTH = 8_192;
/** A JWKS document larger than this is refused (an identity provider publishes a few keys). */
const MAX_JWKS_BYTES = 262_144;
/** Header parameters that name a key elsewhere: a token carrying one is refused outright. */
const KEY_POINTER_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

export type VerifierOptions = {
  issuer: string;
  audience: string;
  /** The identity provider's JWKS (`AUTH_JWKS_URL`) ... */
  jwksUrl?: string;
  /** ... or the keys themselves (the development issuer, tests). */
  jwks?: { keys: JWK[] };
  /** Seconds of clock skew accepted on `exp`, `nbf` and `iat`. */
  clockToleranceSeconds?: number;
  /** The JWKS is fetched again (for an unknown `kid`) at most once per this many ms. Default 30 s. */
  jwksCooldownMs?: number;
  /** A JWKS fetch slower than this fails. Default 3 s. */
  jwksTimeoutMs?: number;
  /**
   * Seconds a fetched JWKS is trusted (`AUTH_JWKS_MAX_AGE`). Older, it is fetched again before
   * the next verification, so a key withdrawn by the identity provider is refused within this
   * time. When that fetch fails, the last keys keep working. Default 300.
   */
  jwksMaxAgeSeconds?: number;
  /**
   * The `typ` header every token must carry (`AUTH_TOKEN_TYPE`, e.g. `at+jwt` of RFC 9068), so an
   * ID token minted for the same audience is not taken for an access token. Unset: any `typ`.
   */
  tokenType?: string;
  /**
   * How long a verified token is remembered (never past its `exp`), so the subgraphs of one
   * plan and a user's next requests skip the signature check. Default 60 s; 0 turns it off.
   */
  cacheSeconds?: number;
};

/** Verified tokens remembered at most, oldest dropped first. */
const MAX_REMEMBERED = 10_000;

export type TokenVerifier = {
  /** The viewer behind an `Authorization` header; throws UNAUTHENTICATED (401) otherwise. */
  verify(authorization: string | undefined | null): Promise<Viewer>;
};

/**
 * One verification for the gateway and every subgraph: explicit algorithms, issuer, audience,
 * required `exp` and `tenant`, no `iat` in the future, and a tenant id of the expected shape.
 * Any failure, whatever jose throws (including its TypeError for an HMAC token "signed" with a
 * public key), becomes UNAUTHENTICATED.
 *
 * Remote keys are cached for `jwksMaxAgeSeconds` and fetched again when older, or for an
 * unknown `kid`, at most once per cooldown whether the fetch succeeds or not, so neither a burst
 * of forged `kid`s nor an outage of the identity provider turns into a flood of fetches, and
 * known keys keep working through the outage. A remembered token is forgotten when the key set
 * that verified it is due for a refetch, so the memory never outlives a withdrawn key. Header parameters that point elsewhere (`jku`, `x5u`, `x5c`, an embedded
 * `jwk`) are never followed: a token carrying one is refused.
 *
 * @example
 * const verifier = createTokenVerifier({ issuer, audience, jwksUrl: environment.AUTH_JWKS_URL })
 * const viewer = await verifier.verify(request.headers.authorization)
 */
export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const keys = keySet(options);
  const getKey: JWTVerifyGetKey = (header, token) => {
    for (const name of KEY_POINTER_HEADERS) {
      if (name in header) throw new errors.JOSENotSupported(`the "${name}" header parameter is not accepted`);
    }
    return keys.getKey(header, token);
  };
  const clockTolerance = options.clockToleranceSeconds ?? 5;
  const cacheMs = (options.cacheSeconds ?? 60) * 1000;
  // Only successes are remembered, keyed by the exact token: the same bytes verify the same way.
  const remembered = new Map<string, { viewer: Viewer; until: number }>();
  return {
    async verify(authorization) {
      const token = bearerToken(authorization);
      const known = remembered.get(token);
      if (known) {
        if (known.until > Date.now()) return known.viewer;
        remembered.delete(token);
      }
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms: [...ALLOWED_ALGORITHMS],
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['exp', 'tenant'],
          clockTolerance,
          ...(options.tokenType ? { typ: options.tokenType } : {}),
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
      const viewer: Viewer = {
        subject: typeof payload.sub === 'string' ? payload.sub.slice(0, 256) : 'anonymous',
        tenantId,
        scopes: scope.split(' ').filter(Boolean),
        token,
      };
      if (cacheMs > 0) {
        if (remembered.size >= MAX_REMEMBERED) remembered.delete(remembered.keys().next().value!);
        // Never past the moment the keys are due for a refetch: the key may be gone by then.
        const until = Math.min(Number(payload.exp) * 1000, Date.now() + cacheMs, keys.trustedUntil());
        remembered.set(token, { viewer, until });
      }
      return viewer;
    },
  };
}

/** Where the keys come from, and until when a verification made with them may be remembered. */
type KeySource = { getKey: JWTVerifyGetKey; trustedUntil(): number };

function keySet(options: VerifierOptions): KeySource {
  if (options.jwks) {
    const getKey = createLocalJWKSet(options.jwks);
    return { getKey, trustedUntil: () => Number.POSITIVE_INFINITY };
  }
  if (!options.jwksUrl) throw new Error('createTokenVerifier needs jwksUrl or jwks');
  return remoteKeySet(new URL(options.jwksUrl), {
    cooldownMs: options.jwksCooldownMs ?? 30_000,
    timeoutMs: options.jwksTimeoutMs ?? 3_000,
    maxAgeMs: (options.jwksMaxAgeSeconds ?? 300) * 1000,
  });
}

/**
 * Like jose's `createRemoteJWKSet`, except that a failed fetch also starts the cooldown: jose
 * retries a failing JWKS on every unknown `kid`, which an attacker can turn into one fetch per
 * forged token while the identity provider is down. Keys older than `maxAgeMs` are fetched again
 * before use (waiting for the fetch, so a withdrawn key is not accepted once more); when that
 * fetch fails they stay in use, and the next attempt waits for the cooldown (or the max age, if shorter).
 */
function remoteKeySet(
  url: URL,
  { cooldownMs, timeoutMs, maxAgeMs }: { cooldownMs: number; timeoutMs: number; maxAgeMs: number },
): KeySource {
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> | undefined;
  const refresh = () => {
    pending ??= (async () => {
      lastAttempt = Date.now();
      try {
        local = createLocalJWKSet(await fetchJwks(url, timeoutMs));
        fetchedAt = Date.now();
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
  // Until a first fetch succeeds, retry sooner: a blip at start must not lock everyone out.
  const mayRefresh = () => Date.now() - lastAttempt >= (local ? cooldownMs : Math.min(cooldownMs, 1_000));
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (pending) await pending.catch(() => {});
    if (!local) {
      if (!mayRefresh()) throw new errors.JWKSNoMatchingKey();
      await refresh();
    } else if (Date.now() - fetchedAt >= maxAgeMs && Date.now() - lastAttempt >= Math.min(cooldownMs, maxAgeMs)) {
      // An outage keeps the last keys: the failure only starts the cooldown.
      await refresh().catch(() => {});
    }
    const used = local as NonNullable<typeof local>;
    try {
      return await used(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A fetch started meanwhile (by a concurrent request) counts as ours.
      if (pending) await pending.catch(() => {});
      else if (mayRefresh()) await refresh();
      if (!local || local === used) throw error;
      return local(header, token);
    }
  };
  return { getKey, trustedUntil: () => fetchedAt + maxAgeMs };
}

async function fetchJwks(url: URL, timeoutMs: number): Promise<JSONWebKeySet> {
  const response = await fetch(url, {
    headers: { accept: 'application/json, application/jwk-set+json' },
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 200) throw new errors.JWKSInvalid(`JWKS answered ${response.status}`);
  const text = await response.text();
  if (text.length > MAX_JWKS_BYTES) throw new errors.JWKSInvalid('JWKS too large');
  const json = JSON.parse(text) as JSONWebKeySet;
  if (!json || !Array.isArray(json.keys)) throw new errors.JWKSInvalid('not a JWKS');
  return json;
}

function bearerToken(authorization: string | undefined | null): string {
  if (!authorization) throw unauthenticated();
  if (authorization.length > MAX_TOKEN_LENGTH + 7) throw unauthenticated('Expected "Authorization: Bearer <token>".');
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization);
  if (!match?.[1]) throw unauthenticated('Expected "Authorization: Bearer <token>".');
  return match[1];
}
