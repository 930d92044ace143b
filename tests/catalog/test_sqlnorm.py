"""The normaliser: formatting never counts, meaning always does, and it is idempotent."""

from __future__ import annotations

import pytest

from rlsguard.catalog.sqlnorm import (
    normalize_body,
    normalize_expression,
    normalize_expression_or_raw,
    normalize_query,
    normalize_tokens,
)
from rlsguard.errors import SqlNormalizationError

# What pg_get_expr prints (PG 15 and 18 alike) for expressions of the reference platform and
# of tricky shapes: every one must survive normalise -> normalise unchanged.
CATALOG_OUTPUT = [
    "((auth.uid() = id) OR (role = 'admin'::text))",
    "(( SELECT auth.uid() AS uid) = owner_id)",
    "(school_id IN ( SELECT private.school_member_ids(ARRAY['teacher'::text]) AS ids))",
    "(role = ANY (ARRAY['teacher'::text, 'admin'::text]))",
    "(n > ('-1'::integer)::numeric)",
    "(n > (-1)::numeric)",
    "((((current_setting('request.jwt.claims'::text, true))::jsonb ->> 'sub'::text) = "
    "(owner)::text) AND (now() > '2020-01-01 00:00:00+00'::timestamp with time zone))",
    "((v)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))",
    "((bucket_id = 'avatars'::text) AND ((storage.foldername(name))[1] = "
    "(( SELECT auth.uid() AS uid))::text))",
    "(NOT (role IS DISTINCT FROM private.member_role(id)))",
    "CASE\n    WHEN (role = 'x'::text) THEN true\n    ELSE false\nEND",
    "(EXISTS ( SELECT 1\n   FROM app.t t2\n  WHERE (t2.id = t.owner)))",
    '("Order" = 1) AND ("select" = 2)',
    "true",
]


@pytest.mark.parametrize("text", CATALOG_OUTPUT)
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalize_expression(text)
    assert normalize_expression(once) == once


@pytest.mark.parametrize(
    ("written", "catalog"),
    [
        ("auth.uid()=id or ROLE = 'admin'::TEXT", "((auth.uid() = id) OR (role = 'admin'::text))"),
        (
            "(select auth.uid() as uid)   =\n  owner_id",
            "(( SELECT auth.uid() AS uid) = owner_id)",
        ),
        ("((a AND b) AND c)", "a and b and c"),
        ("NOT (a = b)", "not a = b"),
        ("x::int::text", "((x)::integer)::text"),
    ],
)
def test_formatting_parentheses_and_casing_do_not_count(written: str, catalog: str) -> None:
    assert normalize_expression(written) == normalize_expression(catalog)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("a = 1 AND b = 2", "a = 1 OR b = 2"),
        ("a AND (b OR c)", "(a AND b) OR c"),
        ("role = 'admin'", "role = 'Admin'"),
        ("x::varchar(3)", "x::varchar(4)"),
        ('"Role" = 1', "role = 1"),
        ("-1::numeric > n", "(-1)::numeric > n"),
    ],
)
def test_different_meaning_stays_different(one: str, other: str) -> None:
    assert normalize_expression(one) != normalize_expression(other)


def test_casts_keep_the_catalog_form() -> None:
    assert normalize_expression("(role = 'admin'::text)") == "role = 'admin'::text"
    assert normalize_expression("(n > (-1)::numeric)") == "n > (-1)::numeric"
    assert normalize_expression("((a + b))::integer > 0") == "(a + b)::integer > 0"


@pytest.mark.parametrize("text", ["1 FROM t", "a; DROP TABLE x", "", "x AS y", "(", "1 WHERE x"])
def test_anything_but_one_expression_is_refused(text: str) -> None:
    with pytest.raises(SqlNormalizationError):
        normalize_expression(text)


def test_unparsable_text_falls_back_to_collapsed_whitespace() -> None:
    assert normalize_expression_or_raw("a  ==>\n b") == "a ==> b"
    assert normalize_expression_or_raw(None) is None


def test_view_definitions_of_pg15_and_pg16_plus_normalise_alike() -> None:
    # PG 15 qualifies the columns of a single-relation view, 16+ does not; subqueries always do.
    pg15 = (
        " SELECT t.id,\n    t.role\n   FROM app.t t\n  WHERE ((t.role <> 'x'::text) AND "
        "(t.id IN ( SELECT t_1.id\n           FROM app.t t_1\n  WHERE t_1.x = t.y)));"
    )
    pg18 = (
        " SELECT id,\n    role\n   FROM app.t t\n  WHERE ((role <> 'x'::text) AND "
        "(id IN ( SELECT t_1.id\n           FROM app.t t_1\n  WHERE t_1.x = t.y)));"
    )
    assert normalize_query(pg15) == normalize_query(pg18)
    assert "t.y" in normalize_query(pg18)  # the correlated reference keeps its qualifier


def test_joined_view_definitions_keep_their_qualifiers() -> None:
    text = "SELECT c.id, e.student_id FROM public.classes c JOIN public.enrollments e ON e.x = c.id"
    assert "c.id" in normalize_query(text)
    assert "e.student_id" in normalize_query(text)


def test_function_bodies_ignore_comments_whitespace_and_case() -> None:
    written = """
    declare x int; -- a comment
    BEGIN
      /* block */ INSERT INTO private.Members(user_id) values (NEW.id);
      return new;
    end;
    """
    reformatted = "DECLARE X INT; begin insert into private.members (user_id) VALUES (new.id); " \
        "RETURN NEW; END;"  # fmt: skip
    assert normalize_body(written, "plpgsql") == normalize_body(reformatted, "plpgsql")
    assert normalize_tokens("select 'a--b'") == "select 'a--b'"  # not a comment inside a string
    assert normalize_tokens('select "Quoted"') != normalize_tokens("select quoted")


def test_sql_bodies_are_parsed_and_deparsed() -> None:
    assert normalize_body("select  x\nfrom t -- c\nwhere a = 1", "sql") == (
        "SELECT x FROM t WHERE a = 1"
    )
    assert normalize_body("select 1", "sql") != normalize_body("select 2", "sql")
