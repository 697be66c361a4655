export { freePort } from '@tenantgraph/devkit';
export * from './auth.ts';
export * from './client.ts';
export * from './databases.ts';
export * from './fixtures.ts';
export * from './postgres.ts';
export * from './recording.ts';
export * from './registry.ts';
export * from './rls-audit.ts';
