import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GatewayContext } from './context.ts';

/**
 * Every subgraph request carries the caller's token (each subgraph verifies it again), the
 * tenant from the verified claim, and the request id. Nothing else of the client's headers is
 * forwarded, so a tenant header sent by a client never reaches a subgraph.
 */
export class TenantDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['willSendRequest']>>[0]) {
    const headers = request.http?.headers;
    if (!headers || !context.viewer) return;
    headers.set('authorization', `Bearer ${context.viewer.token}`);
    headers.set('x-tenant-id', context.viewer.tenantId);
    headers.set('x-request-id', context.requestId);
  }
}
