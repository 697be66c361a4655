// `pnpm events tail [--tenant ID]` and `pnpm events replay --tenant ID --since T`: domain events for operators.
import { isTenantId } from '@tenantgraph/core';
import { connectEventTransport, type DomainEvent } from '@tenantgraph/events';
import { readOptions } from './args.ts';
import { eventsDatabaseUrl } from './events.ts';
import { openPlatform } from './platform.ts';

const USAGE = `Usage: npx pnpm@10 events tail [--tenant <id>]
       npx pnpm@10 events replay --tenant <id> --since <ISO time>

tail     prints domain events as they are published (every tenant's, or one tenant's) until Ctrl-C
replay   delivers a tenant's stored events since a time again to the durable consumers
         (analytics_sync counts each event once, so its counts stay exact)

Uses NATS JetStream when NATS_URL is set, else the events database of \`pnpm start\`'s PostgreSQL.`;

const { values, positionals } = readOptions(process.argv.slice(2), { tenant: { type: 'string' }, since: { type: 'string' } }, USAGE);
const command = positionals[0];
const fail = (message: string): never => {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
};
if (command !== 'tail' && command !== 'replay') fail('name a command: tail or replay');
if (values.tenant !== undefined && !isTenantId(values.tenant)) fail('--tenant must be a tenant id such as "avocado"');
const since = values.since === undefined ? undefined : new Date(values.since);
if (command === 'replay' && (!values.tenant || !since || Number.isNaN(since.getTime())))
  fail('replay needs --tenant and --since <ISO time>');

const platform = process.env.NATS_URL ? undefined : await openPlatform(() => {});
const transport = await connectEventTransport({
  natsUrl: process.env.NATS_URL,
  eventsDatabaseUrl: platform && eventsDatabaseUrl(platform),
  name: 'events-cli',
});
if (!transport) throw new Error('no transport');

if (command === 'replay') {
  const sent = await transport.replay({ tenantId: values.tenant!, since: since! });
  console.log(`re-delivered ${sent} event(s) of ${values.tenant} since ${since!.toISOString()} (${transport.kind})`);
  await transport.close();
  await platform?.close();
} else {
  const print = (event: DomainEvent) =>
    console.log(
      `${event.occurredAt}  ${event.tenantId.padEnd(8)} ${event.type.padEnd(19)} ${event.entityId}  ${JSON.stringify(event.payload)}`,
    );
  await transport.subscribe(values.tenant ? { tenantId: values.tenant } : 'all', print);
  console.error(`tailing ${values.tenant ?? 'every tenant'}'s events (${transport.kind}); Ctrl-C stops`);
  const stop = async () => {
    await transport.close();
    await platform?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
