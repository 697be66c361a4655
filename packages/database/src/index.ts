export * from './connect.ts';
export * from './migrate.ts';
export * from './router.ts';
export * from './tenant-scope.ts';
