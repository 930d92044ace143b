-- Stand-in for supabase_vault: the "vault" schema, vault.secrets, vault.decrypted_secrets,
-- vault.create_secret() and vault.update_secret(), with the extension's grants (postgres may
-- read and delete secrets and call both functions; nobody else may touch the schema). Seeds
-- that store secrets and functions that read them work. Secrets are NOT encrypted at rest here:
-- "secret" holds the plaintext (keep test data in it, never real keys).
CREATE SCHEMA IF NOT EXISTS vault;
CREATE TABLE vault.secrets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text,
  description text NOT NULL DEFAULT '',
  secret text NOT NULL,
  key_id uuid,
  nonce bytea,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX secrets_name_idx ON vault.secrets (name) WHERE name IS NOT NULL;
COMMENT ON TABLE vault.secrets
  IS 'rlsguard stand-in for supabase_vault: secret holds the plaintext (not encrypted here)';
CREATE VIEW vault.decrypted_secrets AS
  SELECT id, name, description, secret, secret AS decrypted_secret, key_id, nonce,
         created_at, updated_at
  FROM vault.secrets;
CREATE FUNCTION vault.create_secret(
  new_secret text, new_name text DEFAULT NULL, new_description text DEFAULT '',
  new_key_id uuid DEFAULT NULL
) RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  created uuid;
BEGIN
  INSERT INTO vault.secrets (secret, name, description, key_id)
  VALUES (new_secret, new_name, coalesce(new_description, ''), new_key_id)
  RETURNING id INTO created;
  RETURN created;
END
$fn$;
CREATE FUNCTION vault.update_secret(
  secret_id uuid, new_secret text DEFAULT NULL, new_name text DEFAULT NULL,
  new_description text DEFAULT NULL, new_key_id uuid DEFAULT NULL
) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  UPDATE vault.secrets AS s
  SET secret = coalesce(new_secret, s.secret),
      name = coalesce(new_name, s.name),
      description = coalesce(new_description, s.description),
      key_id = coalesce(new_key_id, s.key_id),
      updated_at = now()
  WHERE s.id = secret_id;
END
$fn$;
REVOKE ALL ON SCHEMA vault FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.create_secret(text, text, text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.update_secret(uuid, text, text, text, uuid) FROM PUBLIC;
GRANT USAGE ON SCHEMA vault TO postgres WITH GRANT OPTION;
GRANT SELECT, DELETE ON vault.secrets TO postgres WITH GRANT OPTION;
GRANT SELECT ON vault.decrypted_secrets TO postgres WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION vault.create_secret(text, text, text, uuid) TO postgres WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION vault.update_secret(uuid, text, text, text, uuid) TO postgres WITH GRANT OPTION;
