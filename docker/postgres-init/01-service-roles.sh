#!/usr/bin/env bash
# First start of the compose PostgreSQL (empty data volume): one login role and one shared
# database per subgraph, as `pnpm start` makes them. The roles are neither superuser nor
# BYPASSRLS, so row-level security applies to the services; each owns its database and runs
# its own migrations in it (MIGRATE_ON_START). Passwords come from <SERVICE>_DB_PASSWORD.
set -euo pipefail

for service in tenant product order project; do
  variable="${service^^}_DB_PASSWORD"
  password="${!variable:?$variable is not set}"
  psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="${service}_svc" -v password="$password" -v database="${service}_db" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
  echo "created role ${service}_svc and database ${service}_db"
done
