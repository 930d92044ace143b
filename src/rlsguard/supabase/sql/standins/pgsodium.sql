-- Empty stand-in for pgsodium: its schema only. No cryptography is emulated.
CREATE SCHEMA IF NOT EXISTS pgsodium;
COMMENT ON SCHEMA pgsodium IS 'rlsguard empty stand-in for pgsodium: no function is provided';
