import { forbidden } from './errors.ts';

/** Tenant ids: lower-case letters, digits and inner hyphens, at most 63 characters. */
export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Every entity id the API hands out names its tenant: `<tenant>:<uuid>`. A subgraph can then
 * refuse another tenant's id or representation without ever reading that tenant's rows.
 * @example toGlobalId('avocado', '6f1c…') // 'avocado:6f1c…'
 */
export function toGlobalId(tenantId: string, localId: string): string {
  return `${tenantId}:${localId}`;
}

export type ParsedId = { tenantId: string; localId: string };

/** Splits a global id; undefined when it is not one. */
export function parseGlobalId(id: string): ParsedId | undefined {
  const colon = id.indexOf(':');
  if (colon < 0) return undefined;
  const tenantId = id.slice(0, colon);
  const localId = id.slice(colon + 1);
  if (!isTenantId(tenantId) || !UUID_PATTERN.test(localId)) return undefined;
  return { tenantId, localId };
}

/**
 * The row id behind a global id of the caller's tenant. Throws FORBIDDEN for another tenant's
 * id; returns undefined for something that is not an id at all (the caller answers "not found").
 */
export function localIdOf(id: string, tenantId: string, what: string): string | undefined {
  const parsed = parseGlobalId(id);
  if (!parsed) return undefined;
  if (parsed.tenantId !== tenantId) throw forbidden(`This ${what} belongs to another tenant.`);
  return parsed.localId;
}
