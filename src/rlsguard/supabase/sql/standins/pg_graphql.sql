-- Stand-in for pg_graphql: the "graphql" schema and graphql.resolve(), which fails loudly, and
-- graphql_public.graphql() calling it as on Supabase. No GraphQL query is ever resolved.
CREATE SCHEMA IF NOT EXISTS graphql;
CREATE FUNCTION graphql.resolve(
  query text, variables jsonb DEFAULT '{}'::jsonb, "operationName" text DEFAULT NULL,
  extensions jsonb DEFAULT NULL
) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  RAISE EXCEPTION 'pg_graphql is not available here (stand-in): no query is resolved'
    USING ERRCODE = '0A000';
END
$fn$;
CREATE FUNCTION graphql.comment_directive(comment_ text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$ SELECT NULL::jsonb $fn$;
GRANT USAGE ON SCHEMA graphql TO postgres, anon, authenticated, service_role;
GRANT ALL ON FUNCTION graphql.resolve(text, jsonb, text, jsonb) TO postgres, anon, authenticated, service_role;
CREATE SCHEMA IF NOT EXISTS graphql_public;
CREATE OR REPLACE FUNCTION graphql_public.graphql(
  "operationName" text DEFAULT NULL, query text DEFAULT NULL, variables jsonb DEFAULT NULL,
  extensions jsonb DEFAULT NULL
) RETURNS jsonb LANGUAGE sql AS $fn$
  SELECT graphql.resolve(query := query, variables := coalesce(variables, '{}'),
                         "operationName" := "operationName", extensions := extensions)
$fn$;
COMMENT ON SCHEMA graphql IS 'rlsguard stand-in for pg_graphql: resolve() fails loudly';
