#!/usr/bin/env bash
# First start of the compose PostgreSQL (empty data volume): per subgraph the same layout as
# `pnpm start` makes (packages/database/src/provision.ts):
#   <service>_owner     NOLOGIN; owns the database, its schema and (through migrations) its tables
#   <service>_migrator  LOGIN, member of the owner, every session runs as the owner (ALTER ROLE
#                       ... SET role): MIGRATION_DATABASE_URL, so MIGRATE_ON_START creates tables
#                       the owner owns
#   <service>_svc       LOGIN, DATABASE_URL: SELECT/INSERT/UPDATE/DELETE on rows only, so it can
#                       neither disable row-level security, nor alter, drop or truncate a table
# None is superuser, BYPASSRLS, CREATEDB or CREATEROLE. Passwords: <SERVICE>_DB_PASSWORD (the
# login role) and <SERVICE>_MIGRATION_PASSWORD (the migrator).
# Outside the container (tests): psql's PGHOST/PGPORT/PGUSER/PGPASSWORD say where, and
# TENANTGRAPH_NAME_SUFFIX is appended to every role and database name.
set -euo pipefail

suffix="${TENANTGRAPH_NAME_SUFFIX:-}"
admin="${POSTGRES_USER:-${PGUSER:-postgres}}"

for service in tenant product order project analytics; do
  upper="${service^^}"
  app_variable="${upper}_DB_PASSWORD"
  migrator_variable="${upper}_MIGRATION_PASSWORD"
  app_password="${!app_variable:?$app_variable is not set}"
  migrator_password="${!migrator_variable:?$migrator_variable is not set}"
  owner="${service}_owner${suffix}"
  migrator="${service}_migrator${suffix}"
  app="${service}_svc${suffix}"
  database="${service}_db${suffix}"

  psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$admin" --dbname postgres \
    -v owner="$owner" -v migrator="$migrator" -v app="$app" -v database="$database" \
    -v app_password="$app_password" -v migrator_password="$migrator_password" <<'SQL'
CREATE ROLE :"owner" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE :"app" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE ROLE :"migrator" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'migrator_password';
GRANT :"owner" TO :"migrator";
-- Whatever the migrator connects to, it acts as the owner: tables it creates are the owner's.
ALTER ROLE :"migrator" SET role = :'owner';
CREATE DATABASE :"database" OWNER :"owner";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"migrator";
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"app";
SQL

  psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$admin" --dbname "$database" \
    -v owner="$owner" -v app="$app" <<'SQL'
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
-- Tables and sequences the migrations create later: rows for the login role, nothing more.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"app";
SQL
  echo "created ${owner} (owner), ${migrator} (migrations), ${app} (service) and database ${database}"
done
