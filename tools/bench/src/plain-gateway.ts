// Plain @apollo/gateway on the same supergraph and subgraphs: no token verification, no limits,
// none of our plugins. It only forwards the caller's Authorization header, without which the
// subgraphs would refuse every request.
import { readFileSync } from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { supergraphForGateway } from '@tenantgraph/gateway';

type Context = { authorization: string };
const urls: Record<string, string> = JSON.parse(process.env.SUBGRAPH_URLS ?? '{}');

class ForwardAuthorization extends RemoteGraphQLDataSource<Context> {
  override willSendRequest({ request, context }: Parameters<NonNullable<RemoteGraphQLDataSource<Context>['willSendRequest']>>[0]) {
    request.http?.headers.set('authorization', context.authorization);
  }
}

const gateway = new ApolloGateway({
  // The one concession: without our loader @apollo/gateway refuses the supergraph's `for: SECURITY` links.
  supergraphSdl: supergraphForGateway(readFileSync(process.env.SUPERGRAPH_PATH!, 'utf8')).supergraphSdl,
  buildService: ({ name, url }) => new ForwardAuthorization({ url: urls[name] ?? url }),
});
const server = new ApolloServer<Context>({ gateway });
await startStandaloneServer(server, {
  listen: { port: Number(process.env.PORT), host: '127.0.0.1' },
  context: async ({ req }) => ({ authorization: req.headers.authorization ?? '' }),
});
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
