import type { Logger, Viewer } from '@tenantgraph/core';

export type GatewayContext = {
  viewer: Viewer;
  requestId: string;
  logger: Logger;
};
