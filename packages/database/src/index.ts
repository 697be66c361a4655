export * from './connect.ts';
export * from './embedded.ts';
export * from './migrate.ts';
export * from './provision.ts';
export * from './router.ts';
export * from './tenant-scope.ts';
