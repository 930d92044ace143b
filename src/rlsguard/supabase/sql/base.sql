-- Schemas and grants every Supabase database starts with (supabase/postgres initial schema).
-- Runs as the bootstrap superuser, once per database (skipped when schema "extensions" exists).

-- "extensions" holds pgcrypto, uuid-ossp and pg_stat_statements; it is on the search_path of
-- postgres and of API requests, which is what makes unqualified gen_random_bytes() resolve.
CREATE SCHEMA IF NOT EXISTS extensions AUTHORIZATION postgres;
GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
  GRANT ALL ON TABLES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
  GRANT ALL ON ROUTINES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
  GRANT ALL ON SEQUENCES TO postgres WITH GRANT OPTION;

-- public: owned by pg_database_owner (PG15+), so CREATE follows database ownership.
GRANT USAGE ON SCHEMA public TO postgres, anon, authenticated, service_role;

-- Objects supabase_admin creates in public (Studio's table editor, for instance) are exposed to
-- the API roles in both grant modes: customers cannot change these defaults on Supabase.
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
  GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
  GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
  GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;

-- The schema PostgREST exposes besides public ([api] schemas default).
CREATE SCHEMA IF NOT EXISTS graphql_public AUTHORIZATION supabase_admin;
GRANT USAGE ON SCHEMA graphql_public TO postgres, anon, authenticated, service_role;
