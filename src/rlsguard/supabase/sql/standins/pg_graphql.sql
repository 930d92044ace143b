-- Empty stand-in for pg_graphql: its schema only. GraphQL resolution is not emulated.
CREATE SCHEMA IF NOT EXISTS graphql;
GRANT USAGE ON SCHEMA graphql TO postgres, anon, authenticated, service_role;
COMMENT ON SCHEMA graphql IS 'rlsguard empty stand-in for pg_graphql';
