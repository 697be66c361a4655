import { createTokenVerifier } from '@tenantgraph/auth';
import { createIssuer, type Issuer, serveJwks, type TokenClaims } from '@tenantgraph/devkit';

export type TestAuth = {
  issuer: Issuer;
  /** The issuer's JWKS, served over HTTP on 127.0.0.1 like an identity provider's. */
  jwksUrl: string;
  verifier: ReturnType<typeof createTokenVerifier>;
  /** A signed token for a tenant with the given scopes. */
  token(tenant: string, scopes?: string[], claims?: Omit<TokenClaims, 'tenant' | 'scopes'>): Promise<string>;
  close(): Promise<void>;
};

/** A real identity provider for tests: a fresh RS256 key pair and its JWKS endpoint. */
export async function createTestAuth(): Promise<TestAuth> {
  const issuer = await createIssuer();
  const jwks = await serveJwks(issuer);
  return {
    issuer,
    jwksUrl: jwks.url,
    verifier: createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwksUrl: jwks.url }),
    token: (tenant, scopes = [], claims = {}) => issuer.sign({ tenant, scopes, ...claims }),
    close: jwks.close,
  };
}
