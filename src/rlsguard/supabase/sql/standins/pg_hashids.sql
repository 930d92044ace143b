-- Stand-in for pg_hashids: id_encode()/id_decode() exist so columns and functions using them
-- apply; calling them fails loudly (hashids output is not reproduced).
CREATE FUNCTION @extschema@.id_encode(bigint) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN RAISE EXCEPTION 'pg_hashids is not available here (stand-in)' USING ERRCODE = '0A000'; END $fn$;
CREATE FUNCTION @extschema@.id_encode(bigint, text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN RAISE EXCEPTION 'pg_hashids is not available here (stand-in)' USING ERRCODE = '0A000'; END $fn$;
CREATE FUNCTION @extschema@.id_encode(bigint, text, integer) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN RAISE EXCEPTION 'pg_hashids is not available here (stand-in)' USING ERRCODE = '0A000'; END $fn$;
CREATE FUNCTION @extschema@.id_encode(bigint, text, integer, text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN RAISE EXCEPTION 'pg_hashids is not available here (stand-in)' USING ERRCODE = '0A000'; END $fn$;
CREATE FUNCTION @extschema@.id_decode(text) RETURNS bigint[] LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN RAISE EXCEPTION 'pg_hashids is not available here (stand-in)' USING ERRCODE = '0A000'; END $fn$;
CREATE FUNCTION @extschema@.id_decode(text, text) RETURNS bigint[] LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN RAISE EXCEPTION 'pg_hashids is not available here (stand-in)' USING ERRCODE = '0A000'; END $fn$;
CREATE FUNCTION @extschema@.id_decode(text, text, integer) RETURNS bigint[] LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN RAISE EXCEPTION 'pg_hashids is not available here (stand-in)' USING ERRCODE = '0A000'; END $fn$;
