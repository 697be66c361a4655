export * from './issuer.ts';
export * from './verifier.ts';
