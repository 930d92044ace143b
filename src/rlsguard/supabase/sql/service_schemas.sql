-- Schemas of Supabase's services that public projects' migrations refer to. Skipped when
-- pgbouncer.get_auth exists.

-- PgBouncer's auth lookup (supabase/postgres ansible/files/pgbouncer_config/
-- pgbouncer_auth_schema.sql): schema "pgbouncer" owned by role pgbouncer, and a SECURITY
-- DEFINER function owned by the superuser that only pgbouncer may call.
CREATE SCHEMA IF NOT EXISTS pgbouncer AUTHORIZATION pgbouncer;
REVOKE ALL ON SCHEMA public FROM pgbouncer;
CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text)
RETURNS TABLE (username text, password text)
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
  RAISE WARNING 'PgBouncer auth request: %', p_usename;
  RETURN QUERY SELECT usename::text, passwd::text FROM pg_catalog.pg_shadow
               WHERE usename = p_usename;
END
$fn$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO pgbouncer;

-- GraphQL's public entry point while pg_graphql is not enabled: the image's placeholder
-- answers with an error document instead of failing (supabase/postgres set_graphql_placeholder).
CREATE OR REPLACE FUNCTION graphql_public.graphql(
  "operationName" text DEFAULT NULL, query text DEFAULT NULL, variables jsonb DEFAULT NULL,
  extensions jsonb DEFAULT NULL
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN jsonb_build_object('errors', jsonb_build_array(
    jsonb_build_object('message', 'pg_graphql extension is not enabled.')));
END
$fn$;
GRANT EXECUTE ON FUNCTION graphql_public.graphql(text, text, jsonb, jsonb)
  TO postgres, anon, authenticated, service_role;

-- Realtime (image migration create-realtime-schema; Realtime's own migrations for
-- realtime.messages and realtime.topic(), reduced to what Realtime Authorization policies use).
CREATE SCHEMA IF NOT EXISTS realtime;
GRANT USAGE ON SCHEMA realtime TO postgres, anon, authenticated, service_role;
GRANT ALL ON SCHEMA realtime TO supabase_realtime_admin;
SET ROLE supabase_realtime_admin;
CREATE TABLE realtime.messages (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  topic text NOT NULL,
  extension text NOT NULL,
  payload jsonb,
  event text,
  private boolean DEFAULT false,
  updated_at timestamp without time zone NOT NULL DEFAULT now(),
  inserted_at timestamp without time zone NOT NULL DEFAULT now(),
  PRIMARY KEY (id, inserted_at)
);
ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
CREATE FUNCTION realtime.topic() RETURNS text LANGUAGE sql STABLE
AS $fn$ SELECT nullif(current_setting('realtime.topic', true), '')::text $fn$;
GRANT SELECT, INSERT, UPDATE ON realtime.messages TO anon, authenticated;
GRANT ALL ON realtime.messages TO postgres, service_role;
GRANT EXECUTE ON FUNCTION realtime.topic() TO postgres, anon, authenticated, service_role;
RESET ROLE;

-- Broadcast from the database (Realtime's realtime.send): runs as the caller, so the caller's
-- INSERT policies on realtime.messages decide; a failure is only a warning, as in Realtime.
CREATE OR REPLACE FUNCTION realtime.send(payload jsonb, event text, topic text,
                                         private boolean DEFAULT true)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  BEGIN
    PERFORM set_config('realtime.topic', topic, true);
    INSERT INTO realtime.messages (payload, event, topic, private, extension)
    VALUES (payload, event, topic, private, 'broadcast');
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'ErrorSendingBroadcastMessage: %', SQLERRM;
  END;
END
$fn$;
