export * from './connect.ts';
export * from './migrate.ts';
export * from './paging.ts';
export * from './reusable-read.ts';
export * from './router.ts';
export { sendWithCommit } from './statements.ts';
export * from './tenant-rows.ts';
export * from './tenant-scope.ts';
export * from './unique.ts';
