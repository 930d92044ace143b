"""Policy expressions read from the syntax tree: the cases splinter's text match gets wrong."""

from __future__ import annotations

import pytest

from rlsguard.audit.exprs import analyse, analyse_body, is_privilege_literal

COLUMNS = frozenset({"id", "owner_id", "role", "org_id", "is_admin", "bucket_id"})


def facts(text: str):  # type: ignore[no-untyped-def]
    return analyse(text, "docs", COLUMNS)


def test_wrapped_and_unwrapped_call_sites_of_one_policy() -> None:
    a = facts("(owner_id = ( SELECT auth.uid() AS uid)) OR (org_id = auth.uid())")
    assert [(c.function, c.wrapped) for c in a.auth_calls] == [
        ("auth.uid", True),
        ("auth.uid", False),
    ]
    assert [c.text for c in a.unwrapped_calls] == ["auth.uid()"]


@pytest.mark.parametrize(
    ("text", "unwrapped"),
    [
        ("(select auth.jwt() ->> 'sub') = id::text", 0),
        ("(auth.jwt() ->> 'sub') = id::text", 1),
        ("current_setting('request.jwt.claims', true)::json ->> 'sub' = id::text", 1),
        ("(select current_setting('request.jwt.claims', true)) is not null", 0),
        # Inside a subquery with FROM, the call still runs per row of that subquery.
        ("exists (select 1 from public.m where m.user_id = auth.uid())", 1),
        ("exists (select 1 from public.m where m.user_id = (select auth.uid()))", 0),
        ("(select private.school_id()) = org_id", 0),
    ],
)
def test_per_row_calls(text: str, unwrapped: int) -> None:
    assert len(facts(text).unwrapped_calls) == unwrapped


@pytest.mark.parametrize(
    ("text", "tests"),
    [
        ("(auth.uid() = id) OR (role = 'admin'::text)", [("role", "admin")]),
        ("'super_admin' = role", [("role", "super_admin")]),
        ("role = ANY (ARRAY['owner'::text, 'member'::text])", [("role", "owner")]),
        ("role IN ('moderator', 'member')", [("role", "moderator")]),
        ("owner_id = auth.uid() OR is_admin", [("is_admin", "true")]),
        # The requester's role (a subquery keyed by auth.uid()), not the row's: fine.
        ("(select m.role from public.m where m.user_id = auth.uid()) = 'admin'", []),
        ("exists (select 1 from public.m m where m.role = 'admin' and m.id = docs.org_id)", []),
        ("(select private.app_role()) = 'admin'", []),
        ("bucket_id = 'avatars'", []),
        ("role = 'member'", []),
    ],
)
def test_row_role_confusion(text: str, tests: list[tuple[str, str]]) -> None:
    assert list(facts(text).row_role_tests) == tests


@pytest.mark.parametrize(
    ("text", "disjuncts"),
    [
        ("auth.uid() IS NULL OR owner_id = auth.uid()", ["auth.uid() IS NULL"]),
        ("(select auth.uid()) is null or owner_id = (select auth.uid())", 1),
        ("auth.role() = 'anon' OR owner_id = auth.uid()", 1),
        ("NOT (auth.uid() IS NOT NULL) OR owner_id = auth.uid()", 1),
        ("org_id = 1 AND (auth.uid() IS NULL OR owner_id = auth.uid())", 1),
        ("auth.uid() IS NOT NULL AND owner_id = auth.uid()", 0),
        ("auth.uid() IS NULL", 0),  # a policy meant for anon alone says so: not an OR
    ],
)
def test_anonymous_inversions(text: str, disjuncts: list[str] | int) -> None:
    found = facts(text).anonymous_disjuncts
    if isinstance(disjuncts, int):
        assert len(found) == disjuncts
    else:
        assert list(found) == disjuncts


@pytest.mark.parametrize(
    ("text", "true", "false"),
    [
        ("true", True, False),
        ("1 = 1", True, False),
        ("'a'::text = 'a'::text", True, False),
        ("owner_id = auth.uid() OR true", True, False),
        ("NOT false", True, False),
        ("false", False, True),
        ("1 = 0", False, True),
        ("owner_id = auth.uid() AND false", False, True),
        ("owner_id = auth.uid()", False, False),
        ("id = id", False, False),
    ],
)
def test_constant_predicates(text: str, true: bool, false: bool) -> None:
    a = facts(text)
    assert (a.always_true, a.always_false) == (true, false)


@pytest.mark.parametrize(
    ("text", "reads"),
    [
        ("(auth.jwt() -> 'user_metadata' ->> 'role') = 'admin'", 1),
        ("(auth.jwt() #>> '{user_metadata,role}') = 'admin'", 1),
        (
            "(select u.raw_user_meta_data ->> 'role' from auth.users u "
            "where u.id = (select auth.uid())) = 'admin'",
            1,
        ),
        ("(auth.jwt() -> 'app_metadata' ->> 'role') = 'admin'", 0),
    ],
)
def test_user_metadata(text: str, reads: int) -> None:
    assert len(facts(text).metadata_reads) == reads


def test_columns_relations_and_functions() -> None:
    a = facts(
        "owner_id = (select auth.uid()) OR org_id IN (select m.org_id from public.members m "
        "where m.user_id = (select auth.uid()) and m.role = 'admin') "
        "OR id IN (select d.id from public.docs d where d.org_id = docs.org_id) "
        "OR (select private.is_staff())"
    )
    assert a.columns == {"owner_id", "org_id", "id"}
    assert a.uid_columns == {"owner_id"}
    assert a.relations == {"public.members", "public.docs"}
    assert a.functions == {"private.is_staff"}
    assert ("public.members", "role") in a.foreign_columns
    assert ("public.members", "role", "admin") in a.foreign_literals
    assert a.row_role_tests == ()


@pytest.mark.parametrize(
    ("text", "signed_in"),
    [
        ("auth.uid() is not null", True),
        ("( SELECT auth.uid() AS uid) IS NOT NULL", True),
        ("auth.role() = 'authenticated'::text", True),
        ("'authenticated'::text = ( SELECT auth.role() AS role)", True),
        ("(auth.jwt() ->> 'role'::text) = 'authenticated'::text", True),
        ("NOT (auth.uid() IS NULL)", True),
        ("auth.role() <> 'anon'::text", True),
        ("auth.uid() is not null or owner_id = auth.uid()", True),
        # Narrowed by something about the row or the requester: not every signed-in user.
        ("auth.uid() is not null and owner_id = auth.uid()", False),
        ("auth.role() = 'authenticated' and org_id = 3", False),
        ("auth.uid() is null", False),
        ("auth.role() = 'service_role'", False),
        ("owner_id is not null", False),
        # Literally true is always_true, not signed_in_true.
        ("true", False),
    ],
)
def test_signed_in_only(text: str, signed_in: bool) -> None:
    assert facts(text).signed_in_true is signed_in


def test_self_comparisons() -> None:
    assert facts("owner_id = owner_id").self_comparisons == ("owner_id = owner_id",)
    slip = "exists (select 1 from public.m where m.user_id = auth.uid() and m.org_id = m.org_id)"
    assert facts(slip).self_comparisons == ("m.org_id = m.org_id",)
    assert (
        facts("exists (select 1 from public.m where m.org_id = docs.org_id)").self_comparisons == ()
    )
    assert facts("owner_id = auth.uid()").self_comparisons == ()


def test_anon_null() -> None:
    assert facts("owner_id = (select auth.uid())").anon_null
    assert facts("owner_id = auth.uid() OR (org_id = 1 AND id = auth.uid())").anon_null
    assert not facts("owner_id = auth.uid() OR role = 'x'").anon_null


@pytest.mark.parametrize(
    "text",
    [
        # Storage folder rules: a strict operator over a concatenation holding auth.uid().
        "bucket_id = 'files' AND name ~ ('^' || (auth.uid())::text || '/')",
        "bucket_id = 'files' AND name LIKE (select auth.uid())::text || '/%'",
        "(name ~~ (((SELECT auth.uid() AS uid))::text || '/%'::text))",  # as pg_policy has it
        "owner_id <> auth.uid()",
        "(storage.foldername(name))[1] = (auth.uid())::text",
    ],
)
def test_a_test_null_without_a_user_is_anon_null(text: str) -> None:
    assert facts(text).anon_null


@pytest.mark.parametrize(
    "text",
    [
        "owner_id is distinct from auth.uid()",  # not strict: true for anon
        "name ~ concat('^', auth.uid(), '/')",  # concat() skips NULLs
        "name ~ ('^' || coalesce(auth.uid()::text, '') || '/')",
        "bucket_id = 'files'",
    ],
)
def test_a_test_that_survives_a_null_uid_is_not_anon_null(text: str) -> None:
    assert not facts(text).anon_null


def test_unparsable_text_is_not_guessed_at() -> None:
    a = analyse("this is not sql (", None)
    assert not a.parsed
    assert a.auth_calls == ()
    assert not a.always_true


def test_function_bodies() -> None:
    body = analyse_body(
        "select m.role = 'admin' from private.memberships m where m.user_id = (select auth.uid())",
        "sql",
    )
    assert body.parsed
    assert body.relations == {"private.memberships"}
    assert ("private.memberships", "role", "admin") in body.foreign_literals
    assert not analyse_body("begin return 1; end", "plpgsql").parsed


@pytest.mark.parametrize(
    ("value", "privileged"),
    [("admin", True), ("super_admin", True), ("Moderator", True), ("owner", True),
     ("member", False), ("student", False), ("avatars", False)],
)  # fmt: skip
def test_privilege_literals(value: str, privileged: bool) -> None:
    assert is_privilege_literal(value) is privileged
