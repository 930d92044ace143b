-- Stand-in for pgcrypto on a server without it: only functions core PostgreSQL reproduces with
-- the same behaviour. gen_random_bytes() draws from the same strong random source pgcrypto uses
-- (pg_strong_random, through gen_random_uuid(): 14 of each uuid's 16 bytes are random), digest()
-- maps to the core hash functions. crypt(), gen_salt(), hmac() and the pgp_* functions are
-- security-relevant and deliberately absent: calls to them fail loudly.
CREATE OR REPLACE FUNCTION @extschema@.gen_random_bytes(integer) RETURNS bytea
LANGUAGE plpgsql VOLATILE STRICT PARALLEL SAFE
AS $fn$
DECLARE
  wanted integer := $1;
  pool bytea := ''::bytea;
  raw bytea;
BEGIN
  IF wanted < 1 OR wanted > 1024 THEN
    RAISE EXCEPTION 'Length not in range' USING ERRCODE = '39000';
  END IF;
  WHILE length(pool) < wanted LOOP
    raw := uuid_send(pg_catalog.gen_random_uuid());
    -- byte 7 carries the version nibble and byte 9 the variant bits: skip both.
    pool := pool || substring(raw FROM 1 FOR 6) || substring(raw FROM 8 FOR 1)
                 || substring(raw FROM 10 FOR 7);
  END LOOP;
  RETURN substring(pool FROM 1 FOR wanted);
END
$fn$;
COMMENT ON FUNCTION @extschema@.gen_random_bytes(integer)
  IS 'rlsguard stand-in for pgcrypto (equivalent: pg_strong_random through gen_random_uuid())';

CREATE OR REPLACE FUNCTION @extschema@.gen_random_uuid() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $fn$ SELECT pg_catalog.gen_random_uuid() $fn$;

CREATE OR REPLACE FUNCTION @extschema@.digest(bytea, text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
BEGIN
  CASE lower($2)
    WHEN 'md5' THEN RETURN decode(md5($1), 'hex');
    WHEN 'sha224' THEN RETURN sha224($1);
    WHEN 'sha256' THEN RETURN sha256($1);
    WHEN 'sha384' THEN RETURN sha384($1);
    WHEN 'sha512' THEN RETURN sha512($1);
    ELSE RAISE EXCEPTION 'Cannot use "%": No such hash algorithm', $2 USING ERRCODE = '39000';
  END CASE;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.digest(text, text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT @extschema@.digest(convert_to($1, 'UTF8'), $2) $fn$;
