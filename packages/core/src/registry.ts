import { serviceUnavailable } from './errors.ts';

/** How a tenant's rows are placed in each data subgraph. */
export type Placement = 'shared' | 'dedicated';
export type TenantStatus = 'active' | 'provisioning' | 'moving' | 'deleting';

/** A tenant as the registry (the tenant subgraph) publishes it to the other services. */
export type TenantRecord = {
  id: string;
  slug: string;
  name: string;
  plan: 'FREE' | 'PRO' | 'ENTERPRISE';
  placement: Placement;
  status: TenantStatus;
};

export type TenantRegistry = {
  /** The tenant, or undefined when it is not registered (after at most one refresh). */
  get(tenantId: string): Promise<TenantRecord | undefined>;
};

export type CachedRegistryOptions = {
  /** How long a fetched list is trusted. */
  ttlMs?: number;
  /**
   * How long the last list may keep serving while the registry cannot be reached
   * (`REGISTRY_MAX_STALE`). Beyond it every lookup fails with SERVICE_UNAVAILABLE: a tenant
   * deleted, or fenced for a move, meanwhile must not keep working here. Default 60 s.
   */
  maxStaleMs?: number;
  /** An unknown id triggers a refresh at most this often, so a flood of bad tenants costs nothing. */
  missRefreshMs?: number;
};

/** The default of `maxStaleMs` (and of `REGISTRY_MAX_STALE`, in seconds). */
export const DEFAULT_REGISTRY_MAX_STALE_MS = 60_000;

/**
 * A registry over a loader of the whole tenant list: cached for `ttlMs`, refreshed on a miss
 * (at most once per `missRefreshMs`), one load at a time. When a load fails, the last list
 * keeps serving for up to `maxStaleMs` after it was loaded; after that, lookups throw
 * SERVICE_UNAVAILABLE until a load succeeds again.
 */
export function cachedRegistry(
  load: () => Promise<TenantRecord[]>,
  { ttlMs = 5_000, missRefreshMs = 1_000, maxStaleMs = DEFAULT_REGISTRY_MAX_STALE_MS }: CachedRegistryOptions = {},
): TenantRegistry & { refresh(): Promise<void> } {
  let tenants = new Map<string, TenantRecord>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  // When the list in hand was actually loaded (fetchedAt is moved on after a failure, to pace retries).
  let confirmedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;

  const refresh = () => {
    inFlight ??= load()
      .then((list) => {
        tenants = new Map(list.map((tenant) => [tenant.id, tenant]));
        fetchedAt = Date.now();
        confirmedAt = fetchedAt;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  const refreshQuietly = async () => {
    try {
      await refresh();
    } catch (error) {
      if (fetchedAt === Number.NEGATIVE_INFINITY) throw error;
      // The registry is unreachable: keep answering from the last list, retrying soon.
      fetchedAt = Date.now() - ttlMs + missRefreshMs;
    }
  };

  const confirmed = (found: TenantRecord | undefined) => {
    if (Date.now() - confirmedAt > maxStaleMs) {
      throw serviceUnavailable('The tenant registry cannot be reached; retry later.');
    }
    return found;
  };

  return {
    refresh,
    async get(tenantId) {
      if (Date.now() - fetchedAt > ttlMs) await refreshQuietly();
      const known = tenants.get(tenantId);
      if (known || Date.now() - fetchedAt < missRefreshMs) return confirmed(known);
      await refreshQuietly();
      return confirmed(tenants.get(tenantId));
    },
  };
}

export type RegistryClientOptions = CachedRegistryOptions & {
  /** The tenant subgraph's registry endpoint, e.g. http://localhost:4001/internal/tenants */
  url: string;
  /** Shared secret sent as `Authorization: Bearer`, proving the caller is a platform service. */
  token: string;
  fetch?: typeof fetch;
};

/** The other services' view of the registry: the tenant subgraph's list over HTTP, cached. */
export function createRegistryClient(options: RegistryClientOptions) {
  const doFetch = options.fetch ?? fetch;
  return cachedRegistry(async () => {
    const response = await doFetch(options.url, {
      headers: { authorization: `Bearer ${options.token}` },
      signal: AbortSignal.timeout(3_000),
    });
    if (!response.ok) throw new Error(`tenant registry answered ${response.status}`);
    return ((await response.json()) as { tenants: TenantRecord[] }).tenants;
  }, options);
}
