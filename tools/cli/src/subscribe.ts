// `pnpm subscribe --tenant avocado 'subscription { projectCreated { name } }'`: prints each event
// the gateway delivers over WebSocket, one JSON line each, until Ctrl-C.
import { isTenantId } from '@tenantgraph/core';
import { loadDevIssuer } from '@tenantgraph/devkit';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { readOptions } from './args.ts';
import { DATA_DIR } from './paths.ts';

const USAGE = `Usage: npx pnpm@10 subscribe --tenant <id> [--url ws://localhost:4000/graphql] [--token <jwt>] [--variables '<json>'] '<subscription>'

Opens a WebSocket to the gateway (graphql-transport-ws) with a token of the development issuer
for --tenant (or --token), subscribes, and prints every event as one JSON line until Ctrl-C.
The fields are in ../shared/contract/events.graphql: projectCreated, orderPlaced, taskStatusChanged.`;

const { values, positionals } = readOptions(
  process.argv.slice(2),
  { tenant: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, variables: { type: 'string' } },
  USAGE,
);
const [query] = positionals;
if (!query || positionals.length > 1) {
  console.error(`give one subscription, in quotes\n\n${USAGE}`);
  process.exit(2);
}
if (!values.token && !isTenantId(values.tenant)) {
  console.error(`--tenant must be a tenant id such as "avocado" (or give --token)\n\n${USAGE}`);
  process.exit(2);
}
let variables: Record<string, unknown> | undefined;
try {
  variables = values.variables ? JSON.parse(values.variables) : undefined;
} catch {
  console.error(`--variables must be a JSON object\n\n${USAGE}`);
  process.exit(2);
}

const token =
  values.token ??
  (await (await loadDevIssuer(DATA_DIR)).sign({ tenant: values.tenant!, subject: `demo-user@${values.tenant}`, ttlSeconds: 3600 }));
const url = values.url ?? 'ws://localhost:4000/graphql';
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  // A refused token or an expired one ends the command; it does not reconnect with the same token.
  retryAttempts: 0,
  on: {
    connected: () => console.error(`subscribed at ${url}; waiting for events (Ctrl-C to stop)`),
    closed: (event) => {
      const { code, reason } = event as { code: number; reason: string };
      if (code !== 1000) console.error(`connection closed: ${code} ${reason}`);
    },
  },
});
process.once('SIGINT', () => void client.dispose());

let failed = false;
await new Promise<void>((resolve) => {
  client.subscribe(
    { query, variables },
    {
      next: (result) => console.log(JSON.stringify(result)),
      error: (error) => {
        failed = true;
        // A closed socket was reported by `closed` above; GraphQL errors are printed as the server sent them.
        if (Array.isArray(error)) console.error(JSON.stringify(error));
        else if (error instanceof Error) console.error(error.message);
        resolve();
      },
      complete: resolve,
    },
  );
});
await client.dispose();
process.exit(failed ? 1 : 0);
