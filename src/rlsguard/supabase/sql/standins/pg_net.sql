-- No-op stand-in for pg_net: the "net" schema and request functions that queue nothing and
-- return request id 0, so webhook-style triggers do not fail. No HTTP request is ever sent.
CREATE SCHEMA IF NOT EXISTS net;
GRANT USAGE ON SCHEMA net TO postgres, anon, authenticated, service_role;

CREATE OR REPLACE FUNCTION net.http_get(
  url text,
  params jsonb DEFAULT '{}'::jsonb,
  headers jsonb DEFAULT '{}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$ SELECT 0::bigint $fn$;

CREATE OR REPLACE FUNCTION net.http_post(
  url text,
  body jsonb DEFAULT '{}'::jsonb,
  params jsonb DEFAULT '{}'::jsonb,
  headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$ SELECT 0::bigint $fn$;

CREATE OR REPLACE FUNCTION net.http_delete(
  url text,
  params jsonb DEFAULT '{}'::jsonb,
  headers jsonb DEFAULT '{}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$ SELECT 0::bigint $fn$;
COMMENT ON SCHEMA net IS 'rlsguard no-op stand-in for pg_net: no request is ever sent';
