// `pnpm token --tenant avocado --scope "products:write"`: prints a token of the development issuer.
import { isTenantId } from '@tenantgraph/core';
import { loadDevIssuer } from '@tenantgraph/devkit';
import { readOptions } from './args.ts';
import { DATA_DIR } from './paths.ts';

const USAGE = `Usage: npx pnpm@10 token --tenant <id> [--scope "<scope> <scope>"] [--sub <subject>] [--ttl <seconds>]

Prints a signed RS256 token of the development issuer (the one \`pnpm start\` trusts when
AUTH_JWKS_URL is unset). Scopes: tenant:admin products:write orders:write projects:write.`;

const { values } = readOptions(
  process.argv.slice(2),
  { tenant: { type: 'string', required: true }, scope: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string' } },
  USAGE,
);
if (!isTenantId(values.tenant)) {
  console.error(`--tenant must be a tenant id such as "avocado" (lower-case letters, digits, hyphens)\n\n${USAGE}`);
  process.exit(2);
}
const ttlSeconds = values.ttl ? Number(values.ttl) : 3600;
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
  console.error(`--ttl must be a positive number of seconds\n\n${USAGE}`);
  process.exit(2);
}
const issuer = await loadDevIssuer(DATA_DIR);
const token = await issuer.sign({
  tenant: values.tenant,
  scopes: (values.scope ?? '').split(/\s+/).filter(Boolean),
  subject: values.sub ?? `demo-user@${values.tenant}`,
  ttlSeconds,
});
process.stdout.write(`${token}\n`);
