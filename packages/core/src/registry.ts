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

export type RegistryClientOptions = {
  /** The tenant subgraph's registry endpoint, e.g. http://localhost:4001/internal/tenants */
  url: string;
  /** Shared secret sent as `Authorization: Bearer`, proving the caller is a platform service. */
  token: string;
  /** How long a fetched list is trusted. */
  ttlMs?: number;
  /** An unknown id triggers a refresh at most this often, so a flood of bad tenants costs nothing. */
  missRefreshMs?: number;
  fetch?: typeof fetch;
};

/**
 * The other services' view of the tenant registry: the whole list, cached for `ttlMs`,
 * refreshed on a miss (at most once per `missRefreshMs`), one fetch at a time. When the
 * registry cannot be reached the last list keeps serving.
 */
export function createRegistryClient(options: RegistryClientOptions): TenantRegistry & { refresh(): Promise<void> } {
  const { url, token, ttlMs = 5_000, missRefreshMs = 1_000 } = options;
  const doFetch = options.fetch ?? fetch;
  let tenants = new Map<string, TenantRecord>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;

  const refresh = () => {
    inFlight ??= (async () => {
      try {
        const response = await doFetch(url, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(3_000),
        });
        if (!response.ok) throw new Error(`tenant registry answered ${response.status}`);
        const list = (await response.json()) as { tenants: TenantRecord[] };
        tenants = new Map(list.tenants.map((tenant) => [tenant.id, tenant]));
        fetchedAt = Date.now();
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  const refreshQuietly = async () => {
    try {
      await refresh();
    } catch (error) {
      if (fetchedAt === Number.NEGATIVE_INFINITY) throw error;
      // The registry is unreachable: keep answering from the last list until it returns.
      fetchedAt = Date.now() - ttlMs + missRefreshMs;
    }
  };

  return {
    refresh,
    async get(tenantId) {
      const age = Date.now() - fetchedAt;
      if (age > ttlMs) await refreshQuietly();
      const known = tenants.get(tenantId);
      if (known || Date.now() - fetchedAt < missRefreshMs) return known;
      await refreshQuietly();
      return tenants.get(tenantId);
    },
  };
}
