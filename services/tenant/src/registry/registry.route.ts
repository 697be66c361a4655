import { timingSafeEqual } from 'node:crypto';
import { type Route, sendJson } from '@tenantgraph/server-kit';
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { listTenants } from '../tenant/tenant.repository.ts';

/**
 * `GET /internal/tenants`: the registry the other services route by. It names every tenant, so
 * only platform services holding the registry token may read it.
 */
export function registryRoute(db: Kysely<Database>, registryToken: string): Route {
  const expected = Buffer.from(`Bearer ${registryToken}`);
  return async (req, res) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendJson(res, 401, { error: 'registry token required' });
    }
    sendJson(res, 200, { tenants: await listTenants(db) });
  };
}
