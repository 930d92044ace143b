-- Stand-in for the http extension (pgsql-http): its types and function names exist so
-- migrations that declare functions around them apply; every call that would reach the network
-- fails loudly. No request is ever sent.
CREATE TYPE @extschema@.http_method AS ENUM ('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD');
CREATE TYPE @extschema@.http_header AS (field character varying, value character varying);
CREATE TYPE @extschema@.http_request AS (
  method @extschema@.http_method, uri character varying, headers @extschema@.http_header[],
  content_type character varying, content character varying
);
CREATE TYPE @extschema@.http_response AS (
  status integer, content_type character varying, headers @extschema@.http_header[],
  content character varying
);
CREATE FUNCTION @extschema@.http_header(field character varying, value character varying)
RETURNS @extschema@.http_header LANGUAGE sql IMMUTABLE
AS $fn$ SELECT ROW($1, $2)::@extschema@.http_header $fn$;
CREATE FUNCTION @extschema@.http(request @extschema@.http_request)
RETURNS @extschema@.http_response LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  RAISE EXCEPTION 'http is not available here (stand-in): no request is sent'
    USING ERRCODE = '0A000',
          HINT = 'rlsguard replaced the http extension with a stand-in; run this on a server with it.';
END
$fn$;
CREATE FUNCTION @extschema@.http_get(uri character varying)
RETURNS @extschema@.http_response LANGUAGE sql VOLATILE
AS $fn$ SELECT @extschema@.http(ROW('GET', $1, NULL, NULL, NULL)::@extschema@.http_request) $fn$;
CREATE FUNCTION @extschema@.http_get(uri character varying, data jsonb)
RETURNS @extschema@.http_response LANGUAGE sql VOLATILE
AS $fn$ SELECT @extschema@.http(ROW('GET', $1, NULL, NULL, NULL)::@extschema@.http_request) $fn$;
CREATE FUNCTION @extschema@.http_post(uri character varying, content character varying, content_type character varying)
RETURNS @extschema@.http_response LANGUAGE sql VOLATILE
AS $fn$ SELECT @extschema@.http(ROW('POST', $1, NULL, $3, $2)::@extschema@.http_request) $fn$;
CREATE FUNCTION @extschema@.http_post(uri character varying, data jsonb)
RETURNS @extschema@.http_response LANGUAGE sql VOLATILE
AS $fn$ SELECT @extschema@.http(ROW('POST', $1, NULL, NULL, NULL)::@extschema@.http_request) $fn$;
CREATE FUNCTION @extschema@.http_put(uri character varying, content character varying, content_type character varying)
RETURNS @extschema@.http_response LANGUAGE sql VOLATILE
AS $fn$ SELECT @extschema@.http(ROW('PUT', $1, NULL, $3, $2)::@extschema@.http_request) $fn$;
CREATE FUNCTION @extschema@.http_patch(uri character varying, content character varying, content_type character varying)
RETURNS @extschema@.http_response LANGUAGE sql VOLATILE
AS $fn$ SELECT @extschema@.http(ROW('PATCH', $1, NULL, $3, $2)::@extschema@.http_request) $fn$;
CREATE FUNCTION @extschema@.http_delete(uri character varying)
RETURNS @extschema@.http_response LANGUAGE sql VOLATILE
AS $fn$ SELECT @extschema@.http(ROW('DELETE', $1, NULL, NULL, NULL)::@extschema@.http_request) $fn$;
CREATE FUNCTION @extschema@.http_head(uri character varying)
RETURNS @extschema@.http_response LANGUAGE sql VOLATILE
AS $fn$ SELECT @extschema@.http(ROW('HEAD', $1, NULL, NULL, NULL)::@extschema@.http_request) $fn$;
