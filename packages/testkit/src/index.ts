export * from './auth.ts';
export * from './client.ts';
export * from './databases.ts';
export { freePort } from '@tenantgraph/database';
export * from './postgres.ts';
export * from './registry.ts';
export * from './fixtures.ts';
export * from './rls-audit.ts';
