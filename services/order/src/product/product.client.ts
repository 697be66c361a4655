import { forbidden } from '@tenantgraph/core';

/** What an order needs to know of a product at order time. */
export type ProductPrice = { id: string; priceCents: number; currency: string };

/** Who is asking: the product subgraph sees the caller's own token, never a service identity. */
export type Caller = { token: string; requestId: string };

export type ProductClient = {
  /** The products named by these global ids, in the same order; null for a product the tenant does not have. */
  prices(ids: readonly string[], caller: Caller): Promise<(ProductPrice | null)[]>;
};

const PRICES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id priceCents currency } } }';

type EntitiesResponse = {
  data?: { _entities?: (ProductPrice | null)[] } | null;
  errors?: { message?: string; extensions?: { code?: unknown } }[];
};

/**
 * The product subgraph over HTTP, called as the caller. Its data is read live, so a product
 * created a moment ago can be ordered at once. Anything unexpected is thrown as a plain Error,
 * which the server logs and masks.
 */
export function createProductClient(url: string, { timeoutMs = 3_000, fetch: doFetch = fetch } = {}): ProductClient {
  return {
    async prices(ids, caller) {
      if (ids.length === 0) return [];
      const response = await doFetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${caller.token}`,
          'x-request-id': caller.requestId,
        },
        body: JSON.stringify({ query: PRICES, variables: { r: ids.map((id) => ({ __typename: 'Product', id })) } }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      let body: EntitiesResponse;
      try {
        body = (await response.json()) as EntitiesResponse;
      } catch {
        throw new Error(`product subgraph answered ${response.status} without JSON`);
      }
      const errors = body.errors ?? [];
      if (errors.some((error) => error.extensions?.code === 'FORBIDDEN')) {
        throw forbidden('A product in this order belongs to another tenant.');
      }
      if (errors.length > 0) {
        const codes = errors.map((error) => String(error.extensions?.code ?? 'none')).join(', ');
        throw new Error(`product subgraph answered ${response.status} with errors: ${codes}`);
      }
      const entities = body.data?._entities;
      if (!Array.isArray(entities) || entities.length !== ids.length) {
        throw new Error(`product subgraph answered ${response.status} without the entities asked for`);
      }
      return entities;
    },
  };
}
