-- The Supabase CLI's migration and seed ledgers (pkg/migration/history.go), created as postgres.
SET ROLE postgres;
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY);
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[];
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text;
CREATE TABLE IF NOT EXISTS supabase_migrations.seed_files (
  path text NOT NULL PRIMARY KEY,
  hash text NOT NULL
);
RESET ROLE;
