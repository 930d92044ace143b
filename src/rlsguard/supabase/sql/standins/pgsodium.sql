-- Stand-in for pgsodium: its schema, its key table and roles, and the functions migrations
-- grant or wrap. No cryptography is emulated: every function fails loudly when called.
CREATE SCHEMA IF NOT EXISTS pgsodium;
DO $roles$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY['pgsodium_keyiduser', 'pgsodium_keyholder', 'pgsodium_keymaker'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', name);
    END IF;
  END LOOP;
END
$roles$;
CREATE TABLE pgsodium.key (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  status text DEFAULT 'valid',
  created timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  expires timestamptz,
  key_type text,
  key_id bigserial,
  key_context bytea DEFAULT '\x7067736f6469756d'::bytea,
  name text UNIQUE,
  associated_data text DEFAULT 'associated',
  raw_key bytea,
  raw_key_nonce bytea,
  parent_key uuid REFERENCES pgsodium.key(id),
  comment text,
  user_data text
);
CREATE FUNCTION pgsodium._rlsguard_unavailable() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'pgsodium is not available here (stand-in): no cryptography is emulated'
    USING ERRCODE = '0A000';
END
$fn$;
CREATE FUNCTION pgsodium.crypto_aead_det_encrypt(message bytea, additional bytea, key_uuid uuid, nonce bytea DEFAULT NULL)
RETURNS bytea LANGUAGE plpgsql AS $fn$ BEGIN PERFORM pgsodium._rlsguard_unavailable(); RETURN NULL; END $fn$;
CREATE FUNCTION pgsodium.crypto_aead_det_decrypt(message bytea, additional bytea, key_uuid uuid, nonce bytea DEFAULT NULL)
RETURNS bytea LANGUAGE plpgsql AS $fn$ BEGIN PERFORM pgsodium._rlsguard_unavailable(); RETURN NULL; END $fn$;
CREATE FUNCTION pgsodium.crypto_aead_det_keygen() RETURNS bytea
LANGUAGE plpgsql AS $fn$ BEGIN PERFORM pgsodium._rlsguard_unavailable(); RETURN NULL; END $fn$;
CREATE FUNCTION pgsodium.randombytes_buf(size integer) RETURNS bytea
LANGUAGE plpgsql AS $fn$ BEGIN PERFORM pgsodium._rlsguard_unavailable(); RETURN NULL; END $fn$;
CREATE FUNCTION pgsodium.create_key(
  key_type text DEFAULT 'aead-det', name text DEFAULT NULL, raw_key bytea DEFAULT NULL,
  raw_key_nonce bytea DEFAULT NULL, parent_key uuid DEFAULT NULL,
  key_context bytea DEFAULT '\x7067736f6469756d'::bytea, expires timestamptz DEFAULT NULL,
  associated_data text DEFAULT ''
) RETURNS pgsodium.key LANGUAGE plpgsql AS $fn$
BEGIN PERFORM pgsodium._rlsguard_unavailable(); RETURN NULL; END $fn$;
GRANT USAGE ON SCHEMA pgsodium TO pgsodium_keyiduser, pgsodium_keyholder, pgsodium_keymaker;
GRANT pgsodium_keyiduser, pgsodium_keyholder, pgsodium_keymaker TO postgres WITH ADMIN OPTION;
COMMENT ON SCHEMA pgsodium IS 'rlsguard stand-in for pgsodium: every function fails loudly';
