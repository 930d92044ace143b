-- Stand-in for pg_net: the "net" schema, its request queue and response table, and the request
-- functions. A call queues the request (visible in net.http_request_queue, with a NOTICE) and
-- returns its id, as pg_net does; nothing ever sends it, so net._http_response stays empty.
CREATE SCHEMA IF NOT EXISTS net;
CREATE TABLE net.http_request_queue (
  id bigserial PRIMARY KEY,
  method text NOT NULL,
  url text NOT NULL,
  headers jsonb NOT NULL,
  body bytea,
  timeout_milliseconds integer NOT NULL
);
CREATE TABLE net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION net._rlsguard_queue(method text, url text, headers jsonb, body bytea, timeout_ms integer)
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  request_id bigint;
BEGIN
  INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  VALUES (method, url, coalesce(headers, '{}'::jsonb), body, timeout_ms)
  RETURNING id INTO request_id;
  RAISE NOTICE 'pg_net stand-in: % % queued as request %, never sent', method, url, request_id;
  RETURN request_id;
END
$fn$;
CREATE FUNCTION net.http_get(
  url text, params jsonb DEFAULT '{}'::jsonb, headers jsonb DEFAULT '{}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = ''
AS $fn$ SELECT net._rlsguard_queue('GET', url, headers, NULL, timeout_milliseconds) $fn$;
CREATE FUNCTION net.http_post(
  url text, body jsonb DEFAULT '{}'::jsonb, params jsonb DEFAULT '{}'::jsonb,
  headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = ''
AS $fn$ SELECT net._rlsguard_queue('POST', url, headers, convert_to(body::text, 'UTF8'), timeout_milliseconds) $fn$;
CREATE FUNCTION net.http_delete(
  url text, params jsonb DEFAULT '{}'::jsonb, headers jsonb DEFAULT '{}'::jsonb,
  timeout_milliseconds integer DEFAULT 5000
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = ''
AS $fn$ SELECT net._rlsguard_queue('DELETE', url, headers, NULL, timeout_milliseconds) $fn$;
-- As Supabase's grant_pg_net_access event trigger does.
GRANT USAGE ON SCHEMA net TO postgres, anon, authenticated, service_role;
REVOKE ALL ON FUNCTION net._rlsguard_queue(text, text, jsonb, bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION net.http_get(text, jsonb, jsonb, integer),
  net.http_post(text, jsonb, jsonb, jsonb, integer),
  net.http_delete(text, jsonb, jsonb, integer) TO postgres, anon, authenticated, service_role;
COMMENT ON SCHEMA net IS 'rlsguard stand-in for pg_net: requests are queued, never sent';
