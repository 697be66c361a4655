import { loadEnvironment, port, subgraphEnvironment } from '@tenantgraph/server-kit';
import { z } from 'zod';

/** Everything this service reads from `process.env`, validated once at start. */
export const environment = loadEnvironment(
  subgraphEnvironment.extend({
    PORT: port(4003),
    METRICS_PORT: port(9403),
    /** The product subgraph, asked for prices at order time. */
    PRODUCT_SUBGRAPH_URL: z.url().default('http://127.0.0.1:4002/graphql'),
  }),
);
