-- Empty stand-in for supabase_vault: its schema only. Secrets are not emulated (no table, no
-- decrypted view), so code that reads them fails loudly instead of seeing fake plaintext.
CREATE SCHEMA IF NOT EXISTS vault;
COMMENT ON SCHEMA vault IS 'rlsguard empty stand-in for supabase_vault: no secret is stored';
