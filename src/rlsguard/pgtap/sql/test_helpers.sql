-- The community Supabase test helpers (basejump's supabase_test_helpers), rlsguard's version.
--
-- Written from the helpers' documented behaviour; created when a test file runs
-- `create extension "basejump-supabase_test_helpers"` (or `supabase_test_helpers`) on a server
-- that does not have the extension, inside the file's transaction, so nothing outlives it.
-- tests.authenticate_as() sets the role and the claims rlsguard's PostgREST-exact sessions set
-- for the same user (GoTrue's claim order and defaults, see rlsguard.identity.tokens).
-- @extschema@ is the schema holding the pgTAP functions (tests.rls_enabled reports through ok()).

CREATE SCHEMA IF NOT EXISTS tests;
CREATE SCHEMA IF NOT EXISTS test_overrides;
GRANT USAGE ON SCHEMA tests, test_overrides TO anon, authenticated, service_role;

CREATE OR REPLACE FUNCTION tests.create_supabase_user(
  identifier text, email text DEFAULT NULL, phone text DEFAULT NULL, metadata jsonb DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = auth, pg_temp AS $$
DECLARE
  user_id uuid := gen_random_uuid();
BEGIN
  INSERT INTO auth.users (
    instance_id, id, aud, role, email, phone, raw_user_meta_data, raw_app_meta_data,
    is_anonymous, created_at, updated_at, email_confirmed_at,
    confirmation_token, recovery_token, email_change_token_new, email_change
  ) VALUES (
    '00000000-0000-0000-0000-000000000000', user_id, 'authenticated', 'authenticated',
    coalesce(email, identifier || '@test.com'), phone,
    jsonb_build_object('test_identifier', identifier) || coalesce(metadata, '{}'::jsonb),
    '{"provider": "email", "providers": ["email"]}'::jsonb,
    false, now(), now(), now(), '', '', '', ''
  );
  RETURN user_id;
END
$$;

CREATE OR REPLACE FUNCTION tests.get_supabase_user(identifier text) RETURNS json
LANGUAGE sql SECURITY DEFINER SET search_path = auth, pg_temp AS $$
  SELECT json_build_object(
    'id', u.id, 'email', u.email, 'phone', u.phone, 'aud', u.aud, 'role', u.role,
    'is_anonymous', u.is_anonymous,
    'raw_user_meta_data', u.raw_user_meta_data, 'raw_app_meta_data', u.raw_app_meta_data)
    FROM auth.users u
   WHERE u.raw_user_meta_data ->> 'test_identifier' = identifier
   LIMIT 1
$$;

CREATE OR REPLACE FUNCTION tests.get_supabase_uid(identifier text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = auth, pg_temp AS $$
DECLARE
  found_id uuid;
BEGIN
  SELECT id INTO found_id FROM auth.users WHERE raw_user_meta_data ->> 'test_identifier' = identifier
   LIMIT 1;
  IF found_id IS NULL THEN
    RAISE EXCEPTION 'User with identifier % not found', identifier;
  END IF;
  RETURN found_id;
END
$$;

-- Not SECURITY DEFINER: a definer function may not change the role.
CREATE OR REPLACE FUNCTION tests.authenticate_as(identifier text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  u   json := tests.get_supabase_user(identifier);
  now_s bigint := floor(extract(epoch FROM pg_catalog.now()))::bigint;
BEGIN
  IF u IS NULL OR u ->> 'id' IS NULL THEN
    RAISE EXCEPTION 'User with identifier % not found', identifier;
  END IF;
  PERFORM set_config('role', coalesce(nullif(u ->> 'role', ''), 'authenticated'), true);
  PERFORM set_config('request.jwt.claims', json_build_object(
    'aud', coalesce(u ->> 'aud', 'authenticated'),
    'exp', now_s + 3600,
    'iat', now_s,
    'iss', 'http://127.0.0.1:54321/auth/v1',
    'sub', u ->> 'id',
    'email', coalesce(u ->> 'email', ''),
    'phone', coalesce(u ->> 'phone', ''),
    'app_metadata', coalesce(u -> 'raw_app_meta_data', '{}'::json),
    'user_metadata', coalesce(u -> 'raw_user_meta_data', '{}'::json),
    'role', coalesce(nullif(u ->> 'role', ''), 'authenticated'),
    'aal', 'aal1',
    'amr', json_build_array(json_build_object(
      'method', CASE WHEN (u ->> 'is_anonymous')::boolean THEN 'anonymous' ELSE 'password' END,
      'timestamp', now_s)),
    'session_id', gen_random_uuid(),
    'is_anonymous', coalesce((u ->> 'is_anonymous')::boolean, false)
  )::text, true);
END
$$;

CREATE OR REPLACE FUNCTION tests.authenticate_as_service_role() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('role', 'service_role', true);
  PERFORM set_config('request.jwt.claims', NULL, true);
END
$$;

CREATE OR REPLACE FUNCTION tests.clear_authentication() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('role', 'anon', true);
  PERFORM set_config('request.jwt.claims', NULL, true);
END
$$;

CREATE OR REPLACE FUNCTION tests.rls_enabled(testing_schema text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.is(
    (SELECT count(*) FROM pg_catalog.pg_tables
      WHERE schemaname = testing_schema AND NOT rowsecurity),
    0::bigint,
    'All tables in the ' || testing_schema || ' schema should have row level security enabled')
$$;

CREATE OR REPLACE FUNCTION tests.rls_enabled(testing_schema text, testing_table text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.is(
    (SELECT count(*) FROM pg_catalog.pg_tables
      WHERE schemaname = testing_schema AND tablename = testing_table AND rowsecurity),
    1::bigint,
    'Table ' || testing_schema || '.' || testing_table || ' should have row level security enabled')
$$;

-- now() for code that resolves it through the search_path (test_overrides comes first while
-- the time is frozen); code that pins its own search_path must list test_overrides itself.
CREATE OR REPLACE FUNCTION test_overrides.now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('tests.frozen_time', true), '')::timestamptz, pg_catalog.now())
$$;

CREATE OR REPLACE FUNCTION tests.freeze_time(frozen_time timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('tests.original_search_path', true), '') = '' THEN
    PERFORM set_config('tests.original_search_path', current_setting('search_path'), true);
    PERFORM set_config('search_path',
      'test_overrides, pg_catalog, ' || current_setting('search_path'), true);
  END IF;
  PERFORM set_config('tests.frozen_time', frozen_time::text, true);
END
$$;

CREATE OR REPLACE FUNCTION tests.unfreeze_time() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  original text := coalesce(current_setting('tests.original_search_path', true), '');
BEGIN
  IF original <> '' THEN
    PERFORM set_config('search_path', original, true);
  END IF;
  PERFORM set_config('tests.original_search_path', '', true);
  PERFORM set_config('tests.frozen_time', '', true);
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests, test_overrides TO anon, authenticated, service_role;
