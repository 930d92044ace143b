-- Stand-in for pgjwt: url_encode/url_decode (plain base64url) and sign()/verify(), which fail
-- loudly: signing and verifying tokens is security-relevant and never faked.
CREATE FUNCTION @extschema@.url_encode(data bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $fn$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $fn$;
CREATE FUNCTION @extschema@.url_decode(data text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $fn$
  WITH t AS (SELECT translate(data, '-_', '+/') AS trans),
       rem AS (SELECT length(t.trans) % 4 AS remainder FROM t)
  SELECT decode(t.trans || CASE WHEN rem.remainder > 0 THEN repeat('=', 4 - rem.remainder) ELSE '' END, 'base64')
  FROM t, rem
$fn$;
CREATE FUNCTION @extschema@.sign(payload json, secret text, algorithm text DEFAULT 'HS256')
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  RAISE EXCEPTION 'pgjwt is not available here (stand-in): sign() is never faked' USING ERRCODE = '0A000';
END
$fn$;
CREATE FUNCTION @extschema@.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE (header json, payload json, valid boolean) LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  RAISE EXCEPTION 'pgjwt is not available here (stand-in): verify() is never faked' USING ERRCODE = '0A000';
END
$fn$;
