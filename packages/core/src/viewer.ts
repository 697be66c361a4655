import { forbidden } from './errors.ts';

/** Who is calling, as established by a verified token. */
export type Viewer = {
  /** The token's `sub`. */
  subject: string;
  /** The token's `tenant` claim: the only source of the tenant anywhere. */
  tenantId: string;
  scopes: readonly string[];
  /** The raw bearer token, forwarded unchanged to subgraphs. */
  token: string;
};

/** Throws FORBIDDEN when a representation names a tenant other than the viewer's. */
export function requireSameTenant(viewer: Viewer, tenantId: unknown): void {
  if (tenantId !== viewer.tenantId) throw forbidden('This tenant is not the one named by your token.');
}
