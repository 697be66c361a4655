import { fileURLToPath } from 'node:url';
import { loadEnvironment, port } from '@tenantgraph/server-kit';
import { z } from 'zod';

const SUBGRAPHS = ['tenant', 'product', 'order', 'project'] as const;

/** Everything the gateway reads from `process.env`, validated once at start. */
export const environment = loadEnvironment(
  z.object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: port(4000),
    HOST: z.string().default('0.0.0.0'),
    AUTH_JWKS_URL: z.url(),
    AUTH_ISSUER: z.string().min(1),
    AUTH_AUDIENCE: z.string().min(1),
    TENANT_REGISTRY_URL: z.url().default('http://127.0.0.1:4001/internal/tenants'),
    REGISTRY_TOKEN: z.string().min(16),
    SUPERGRAPH_PATH: z.string().default(fileURLToPath(new URL('../../../supergraph/supergraph.graphql', import.meta.url))),
    SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
    SUBGRAPH_MAX_SOCKETS: z.coerce.number().int().positive().default(64),
    ...Object.fromEntries(SUBGRAPHS.map((name) => [`SUBGRAPH_${name.toUpperCase()}_URL`, z.url().optional()])),
  }),
);

/** Routing URLs that replace the supergraph's, from `SUBGRAPH_<NAME>_URL`. */
export const subgraphUrls: Record<string, string> = Object.fromEntries(
  SUBGRAPHS.flatMap((name) => {
    const url = (environment as Record<string, unknown>)[`SUBGRAPH_${name.toUpperCase()}_URL`];
    return typeof url === 'string' ? [[name, url]] : [];
  }),
);
