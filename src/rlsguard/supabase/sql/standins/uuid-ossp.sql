-- Stand-in for uuid-ossp on a server without it: only what core PostgreSQL reproduces exactly.
-- uuid_generate_v4() is a random (version 4) uuid, as core gen_random_uuid() is; the namespace
-- constants are fixed values. v1, v1mc, v3 and v5 are left out, so calls to them fail loudly.
CREATE OR REPLACE FUNCTION @extschema@.uuid_generate_v4() RETURNS uuid
LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
AS $fn$ SELECT pg_catalog.gen_random_uuid() $fn$;
COMMENT ON FUNCTION @extschema@.uuid_generate_v4()
  IS 'rlsguard stand-in for uuid-ossp (equivalent: core gen_random_uuid())';

CREATE OR REPLACE FUNCTION @extschema@.uuid_nil() RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT '00000000-0000-0000-0000-000000000000'::uuid $fn$;
CREATE OR REPLACE FUNCTION @extschema@.uuid_ns_dns() RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid $fn$;
CREATE OR REPLACE FUNCTION @extschema@.uuid_ns_url() RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT '6ba7b811-9dad-11d1-80b4-00c04fd430c8'::uuid $fn$;
CREATE OR REPLACE FUNCTION @extschema@.uuid_ns_oid() RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT '6ba7b812-9dad-11d1-80b4-00c04fd430c8'::uuid $fn$;
CREATE OR REPLACE FUNCTION @extschema@.uuid_ns_x500() RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT '6ba7b814-9dad-11d1-80b4-00c04fd430c8'::uuid $fn$;
