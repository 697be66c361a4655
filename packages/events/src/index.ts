export * from './connect.ts';
export * from './event.ts';
export * from './nats.ts';
export * from './outbox.ts';
export * from './postgres.ts';
export * from './relay.ts';
export * from './transport.ts';
