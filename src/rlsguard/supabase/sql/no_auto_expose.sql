-- 2026 grant mode ("tables not exposed to the Data API automatically"): the revoke the Supabase
-- CLI runs when [api].auto_expose_new_tables is false, matching what Studio runs at project
-- creation. It runs after the legacy grants, so TRUNCATE, REFERENCES, TRIGGER (and MAINTAIN on
-- PG17+) on tables, UPDATE on sequences and PUBLIC's EXECUTE on functions remain, as on Supabase.
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
  REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
  REVOKE USAGE, SELECT ON SEQUENCES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
  REVOKE EXECUTE ON FUNCTIONS FROM anon, authenticated, service_role;
