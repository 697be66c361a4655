import { createNatsTransport } from './nats.ts';
import { createPostgresTransport } from './postgres.ts';
import type { EventTransport } from './transport.ts';

export type EventTransportSettings = {
  /** NATS with JetStream (`NATS_URL`): used when set. */
  natsUrl?: string | undefined;
  /** The events database of the PostgreSQL transport (`EVENTS_DATABASE_URL`): used without `natsUrl`. */
  eventsDatabaseUrl?: string | undefined;
  /** A name for the connection (the service). */
  name?: string;
};

/**
 * The transport a service's environment names: NATS JetStream when `NATS_URL` is set, otherwise
 * PostgreSQL at `EVENTS_DATABASE_URL`; undefined when neither is (events then wait in the outbox).
 * @example const transport = await connectEventTransport({ natsUrl: env.NATS_URL, eventsDatabaseUrl: env.EVENTS_DATABASE_URL })
 */
export async function connectEventTransport(settings: EventTransportSettings): Promise<EventTransport | undefined> {
  if (settings.natsUrl) return createNatsTransport({ url: settings.natsUrl, name: settings.name });
  if (settings.eventsDatabaseUrl) return createPostgresTransport({ url: settings.eventsDatabaseUrl });
  return undefined;
}
