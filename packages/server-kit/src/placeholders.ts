/**
 * Secrets that ship in this repository as examples: `.env.example`'s registry token and the
 * database passwords docker-compose.yml used to default to. Anyone can read them, so a
 * production service must not run with one.
 */
export const PLACEHOLDER_SECRETS: readonly string[] = [
  'change-me-to-a-long-random-string',
  'postgres',
  'password',
  'tenant_svc_password',
  'product_svc_password',
  'order_svc_password',
  'project_svc_password',
];

/** Variables holding a secret outright, and variables holding a URL whose password is one. */
const SECRET_VARIABLES = ['REGISTRY_TOKEN'];
const URL_VARIABLES = ['DATABASE_URL', 'MIGRATION_DATABASE_URL', 'REDIS_URL'];

/**
 * With `NODE_ENV=production`, one line per variable that holds a documented placeholder secret
 * (see `PLACEHOLDER_SECRETS`); nothing otherwise. `loadEnvironment` reports them with the rest.
 * @example placeholderProblems({ NODE_ENV: 'production', REGISTRY_TOKEN: 'change-me-to-a-long-random-string' })
 */
export function placeholderProblems(env: Record<string, unknown>): string[] {
  if (env.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    if (typeof env[name] === 'string' && PLACEHOLDER_SECRETS.includes(env[name])) {
      problems.push(`${name}: is the documented placeholder; set a secret of your own in production`);
    }
  }
  for (const name of URL_VARIABLES) {
    const value = env[name];
    if (typeof value !== 'string') continue;
    let password: string;
    try {
      password = decodeURIComponent(new URL(value).password);
    } catch {
      continue;
    }
    if (PLACEHOLDER_SECRETS.includes(password)) {
      problems.push(`${name}: its password is a documented placeholder; set one of your own in production`);
    }
  }
  return problems;
}
