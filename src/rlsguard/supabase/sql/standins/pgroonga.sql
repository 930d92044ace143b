-- Stand-in for pgroonga: the "pgroonga" index access method (a hash index underneath, so
-- CREATE INDEX ... USING pgroonga applies; its WITH options are dropped by the runner) and the
-- full-text operators &@ and &@~, which fail loudly when evaluated: no search is emulated.
CREATE FUNCTION @extschema@.pgroonga_match_stand_in(text, text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN RAISE EXCEPTION 'pgroonga is not available here (stand-in): no full-text search' USING ERRCODE = '0A000'; END $fn$;
CREATE OPERATOR @extschema@.&@ (LEFTARG = text, RIGHTARG = text, FUNCTION = @extschema@.pgroonga_match_stand_in);
CREATE OPERATOR @extschema@.&@~ (LEFTARG = text, RIGHTARG = text, FUNCTION = @extschema@.pgroonga_match_stand_in);
CREATE FUNCTION @extschema@.pgroonga_hash_stand_in(text) RETURNS integer
  LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'hashvarlena';
CREATE ACCESS METHOD pgroonga TYPE INDEX HANDLER pg_catalog.hashhandler;
CREATE OPERATOR CLASS @extschema@.pgroonga_text_full_text_search_ops_v2 DEFAULT FOR TYPE text USING pgroonga AS
  OPERATOR 1 pg_catalog.= (text, text), FUNCTION 1 @extschema@.pgroonga_hash_stand_in(text);
