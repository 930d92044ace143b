-- Type stand-in for pgvector on a server without it (written for rlsguard; pgvector's own
-- surface is documented at github.com/pgvector/pgvector). A "vector" column stores its text
-- form ('[1,2,3]'); the distance operators compute in PL/pgSQL; ivfflat and hnsw exist as
-- access methods backed by hash indexes, so CREATE INDEX applies (its WITH options are
-- dropped by the migration runner) but no approximate search happens: ORDER BY <=> is an
-- exact sort. Limits (see docs/supabase-fidelity.md): a literal inserted into vector(n) is
-- not checked against n (an expression cast is), halfvec/sparsevec/bit operators are absent.
CREATE TYPE @extschema@.vector;
CREATE FUNCTION @extschema@.vector_in(cstring, oid, integer) RETURNS @extschema@.vector
  LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textin';
CREATE FUNCTION @extschema@.vector_out(@extschema@.vector) RETURNS cstring
  LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textout';
CREATE FUNCTION @extschema@.vector_recv(internal, oid, integer) RETURNS @extschema@.vector
  LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textrecv';
CREATE FUNCTION @extschema@.vector_send(@extschema@.vector) RETURNS bytea
  LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'textsend';
-- vector(n): the typmod is n + 4, as for varchar, and prints back as (n).
CREATE FUNCTION @extschema@.vector_typmod_in(cstring[]) RETURNS integer
  LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'varchartypmodin';
CREATE FUNCTION @extschema@.vector_typmod_out(integer) RETURNS cstring
  LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'varchartypmodout';
CREATE TYPE @extschema@.vector (
  INPUT = @extschema@.vector_in, OUTPUT = @extschema@.vector_out,
  RECEIVE = @extschema@.vector_recv, SEND = @extschema@.vector_send,
  TYPMOD_IN = @extschema@.vector_typmod_in, TYPMOD_OUT = @extschema@.vector_typmod_out,
  INTERNALLENGTH = VARIABLE, STORAGE = extended, CATEGORY = 'U'
);
COMMENT ON TYPE @extschema@.vector IS 'rlsguard type stand-in for pgvector (exact search only)';
CREATE CAST (@extschema@.vector AS text) WITHOUT FUNCTION;
CREATE CAST (text AS @extschema@.vector) WITHOUT FUNCTION;

-- The elements, parsed (and checked) from the text form.
CREATE FUNCTION @extschema@.vector_to_float4(@extschema@.vector, integer, boolean) RETURNS real[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  body text := btrim($1::text);
  out real[];
BEGIN
  IF left(body, 1) <> '[' OR right(body, 1) <> ']' THEN
    RAISE EXCEPTION 'invalid input syntax for type vector: "%"', $1::text
      USING ERRCODE = '22P02', HINT = 'Vector contents must start with "[".';
  END IF;
  out := ('{' || substr(body, 2, length(body) - 2) || '}')::real[];
  IF coalesce(array_length(out, 1), 0) < 1 THEN
    RAISE EXCEPTION 'vector must have at least 1 dimension' USING ERRCODE = '22000';
  END IF;
  RETURN out;
END
$fn$;
CREATE FUNCTION @extschema@.array_to_vector(real[], integer, boolean) RETURNS @extschema@.vector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
BEGIN
  IF $2 > 4 AND coalesce(array_length($1, 1), 0) <> $2 - 4 THEN
    RAISE EXCEPTION 'expected % dimensions, not %', $2 - 4, coalesce(array_length($1, 1), 0)
      USING ERRCODE = '22000';
  END IF;
  RETURN ('[' || array_to_string($1, ',') || ']')::text::@extschema@.vector;
END
$fn$;
CREATE FUNCTION @extschema@.array_to_vector(double precision[], integer, boolean)
RETURNS @extschema@.vector LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT @extschema@.array_to_vector($1::real[], $2, $3) $fn$;
CREATE FUNCTION @extschema@.array_to_vector(integer[], integer, boolean)
RETURNS @extschema@.vector LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT @extschema@.array_to_vector($1::real[], $2, $3) $fn$;
CREATE FUNCTION @extschema@.array_to_vector(numeric[], integer, boolean)
RETURNS @extschema@.vector LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT @extschema@.array_to_vector($1::real[], $2, $3) $fn$;
-- vector(n) from any vector expression: checks the syntax and the dimension count.
CREATE FUNCTION @extschema@.vector(@extschema@.vector, integer, boolean) RETURNS @extschema@.vector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT @extschema@.array_to_vector(@extschema@.vector_to_float4($1, -1, false), $2, $3) $fn$;
CREATE CAST (@extschema@.vector AS @extschema@.vector)
  WITH FUNCTION @extschema@.vector(@extschema@.vector, integer, boolean) AS IMPLICIT;
CREATE CAST (@extschema@.vector AS real[])
  WITH FUNCTION @extschema@.vector_to_float4(@extschema@.vector, integer, boolean) AS IMPLICIT;
CREATE CAST (real[] AS @extschema@.vector)
  WITH FUNCTION @extschema@.array_to_vector(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS @extschema@.vector)
  WITH FUNCTION @extschema@.array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS @extschema@.vector)
  WITH FUNCTION @extschema@.array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS @extschema@.vector)
  WITH FUNCTION @extschema@.array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;

CREATE FUNCTION @extschema@.vector_dims(@extschema@.vector) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT array_length(@extschema@.vector_to_float4($1, -1, false), 1) $fn$;
CREATE FUNCTION @extschema@.vector_norm(@extschema@.vector) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT sqrt(sum(x::float8 * x::float8)) FROM unnest(@extschema@.vector_to_float4($1, -1, false)) AS x $fn$;

-- Pairs of elements, after the dimension check pgvector does.
CREATE FUNCTION @extschema@._rlsguard_pairs(@extschema@.vector, @extschema@.vector)
RETURNS TABLE (a double precision, b double precision)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  x real[] := @extschema@.vector_to_float4($1, -1, false);
  y real[] := @extschema@.vector_to_float4($2, -1, false);
BEGIN
  IF array_length(x, 1) <> array_length(y, 1) THEN
    RAISE EXCEPTION 'different vector dimensions % and %', array_length(x, 1), array_length(y, 1)
      USING ERRCODE = '22000';
  END IF;
  RETURN QUERY SELECT u.a::float8, u.b::float8 FROM unnest(x, y) AS u(a, b);
END
$fn$;
CREATE FUNCTION @extschema@.l2_distance(@extschema@.vector, @extschema@.vector) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT sqrt(sum((a - b) * (a - b))) FROM @extschema@._rlsguard_pairs($1, $2) $fn$;
CREATE FUNCTION @extschema@.inner_product(@extschema@.vector, @extschema@.vector) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT sum(a * b) FROM @extschema@._rlsguard_pairs($1, $2) $fn$;
CREATE FUNCTION @extschema@.vector_negative_inner_product(@extschema@.vector, @extschema@.vector)
RETURNS double precision LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT -sum(a * b) FROM @extschema@._rlsguard_pairs($1, $2) $fn$;
CREATE FUNCTION @extschema@.cosine_distance(@extschema@.vector, @extschema@.vector) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT 1 - sum(a * b) / nullif(sqrt(sum(a * a)) * sqrt(sum(b * b)), 0)
        FROM @extschema@._rlsguard_pairs($1, $2) $fn$;
CREATE FUNCTION @extschema@.l1_distance(@extschema@.vector, @extschema@.vector) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT sum(abs(a - b)) FROM @extschema@._rlsguard_pairs($1, $2) $fn$;
CREATE FUNCTION @extschema@.vector_eq(@extschema@.vector, @extschema@.vector) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT @extschema@.vector_to_float4($1, -1, false) = @extschema@.vector_to_float4($2, -1, false) $fn$;

CREATE OPERATOR @extschema@.<-> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
  FUNCTION = @extschema@.l2_distance, COMMUTATOR = OPERATOR(@extschema@.<->));
CREATE OPERATOR @extschema@.<#> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
  FUNCTION = @extschema@.vector_negative_inner_product, COMMUTATOR = OPERATOR(@extschema@.<#>));
CREATE OPERATOR @extschema@.<=> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
  FUNCTION = @extschema@.cosine_distance, COMMUTATOR = OPERATOR(@extschema@.<=>));
CREATE OPERATOR @extschema@.<+> (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
  FUNCTION = @extschema@.l1_distance, COMMUTATOR = OPERATOR(@extschema@.<+>));
CREATE OPERATOR @extschema@.= (LEFTARG = @extschema@.vector, RIGHTARG = @extschema@.vector,
  FUNCTION = @extschema@.vector_eq, COMMUTATOR = OPERATOR(@extschema@.=));

-- ivfflat and hnsw: hash indexes under pgvector's names and operator classes.
CREATE FUNCTION @extschema@.vector_hash(@extschema@.vector) RETURNS integer
  LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'hashvarlena';
CREATE ACCESS METHOD ivfflat TYPE INDEX HANDLER pg_catalog.hashhandler;
CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER pg_catalog.hashhandler;
CREATE OPERATOR CLASS @extschema@.vector_ops DEFAULT FOR TYPE @extschema@.vector USING hash AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_l2_ops DEFAULT FOR TYPE @extschema@.vector USING ivfflat AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_ip_ops FOR TYPE @extschema@.vector USING ivfflat AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_cosine_ops FOR TYPE @extschema@.vector USING ivfflat AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_l1_ops FOR TYPE @extschema@.vector USING ivfflat AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_l2_ops DEFAULT FOR TYPE @extschema@.vector USING hnsw AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_ip_ops FOR TYPE @extschema@.vector USING hnsw AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_cosine_ops FOR TYPE @extschema@.vector USING hnsw AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
CREATE OPERATOR CLASS @extschema@.vector_l1_ops FOR TYPE @extschema@.vector USING hnsw AS
  OPERATOR 1 @extschema@.= , FUNCTION 1 @extschema@.vector_hash(@extschema@.vector);
