import { createTokenVerifier } from '@tenantgraph/auth';
import type { z } from 'zod';
import type { authEnvironment } from './environment.ts';

type AuthSettings = z.infer<z.ZodObject<typeof authEnvironment>>;

/**
 * The token verifier a service builds from its `AUTH_*` settings.
 * @example const verifier = verifierFromEnvironment(environment)
 */
export function verifierFromEnvironment(env: AuthSettings) {
  return createTokenVerifier({
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    jwksUrl: env.AUTH_JWKS_URL,
    jwksMaxAgeSeconds: env.AUTH_JWKS_MAX_AGE,
    tokenType: env.AUTH_TOKEN_TYPE,
  });
}
