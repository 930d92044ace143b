"""Parameters: found only in code (not in strings, comments or casts), valued from claims."""

from __future__ import annotations

import pytest

from rlsguard.matrix import params


def names(text: str) -> list[str]:
    return [ref.name for ref in params.find_params(text)]


def test_parameters_are_found_in_code_only() -> None:
    text = (
        "owner_id = :uid and x::int = 1 and y = ':uid' and f(a := 1) and \"col:uid\" "
        "and s = $$ :uid $$ and t = $q$ :uid $q$ and u = E'\\' :uid' -- :uid\n"
        "and /* :uid /* nested :uid */ */ school = :app.school_id::int and :claim.aal = 'aal2'"
    )
    assert names(text) == ["uid", "app.school_id", "claim.aal"]


def test_substitution_keeps_casts_and_strings() -> None:
    text = "owner_id = :uid and level = :app.level::int and note <> ':uid'"
    out = params.substitute(text, lambda name: {"uid": "'u-1'", "app.level": "'3'"}[name])
    assert out == "owner_id = 'u-1' and level = '3'::int and note <> ':uid'"


CLAIMS = {
    "sub": "11111111-1111-1111-1111-111111111111",
    "email": "alice@notes.test",
    "phone": "",
    "aal": "aal2",
    "app_metadata": {"school_id": 7, "roles": ["teacher"], "flags": {"beta": True}},
    "user_metadata": {"name": "Alice"},
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("uid", "11111111-1111-1111-1111-111111111111"),
        ("email", "alice@notes.test"),
        ("phone", ""),
        ("role", "authenticated"),
        ("claim.aal", "aal2"),
        ("claim.app_metadata.school_id", "7"),
        ("app.school_id", "7"),
        ("app.roles", '["teacher"]'),
        ("app.flags.beta", "true"),
        ("user.name", "Alice"),
        ("app.missing", None),
        ("claim.sub.deeper", None),
    ],
)
def test_parameter_values_come_from_the_claims(name: str, expected: str | None) -> None:
    assert params.as_text(params.lookup(name, "authenticated", CLAIMS)) == expected


def test_api_keys_have_no_uid() -> None:
    assert params.lookup("uid", "anon", {"role": "anon", "iss": "supabase-demo"}) is None
    assert params.lookup("role", "anon", {}) == "anon"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("uid", None),
        ("app.school_id", None),
        ("user.x", None),
        ("claim.a.b", None),
        ("school_id", "did you mean ':app.school_id'?"),
        ("app", "':app' needs a path"),
        ("uid.x", "unknown parameter ':uid.x'"),
    ],
)
def test_parameter_names_are_checked(name: str, reason: str | None) -> None:
    found = params.check_name(name)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found


def test_literals_are_safe_whatever_the_string() -> None:
    assert params.sql_literal(None) == "NULL"
    assert params.sql_literal("O'Brien") == "'O''Brien'"
    assert params.sql_literal("a\\b") == "E'a\\\\b'"


def test_whole_values_and_request_functions() -> None:
    assert params.whole_param(":uid") == "uid"
    assert params.whole_param(":app.school_id") == "app.school_id"
    assert params.whole_param("x :uid") is None
    assert params.whole_param(5) is None
    assert params.request_functions("auth.uid() = owner_id or 'auth.jwt()' = x") == ["auth.uid()"]
    assert params.request_functions("AUTH . JWT ( ) ->> 'x'") == ["auth.jwt()"]


@pytest.mark.parametrize(
    ("name", "hint"),
    [("uuid", "did you mean ':uid'?"), ("emial", "did you mean ':email'?"), ("ap.x", "':app.x'")],
)
def test_a_misspelt_parameter_gets_a_suggestion(name: str, hint: str) -> None:
    reason = params.check_name(name)
    assert reason is not None
    assert hint in reason
