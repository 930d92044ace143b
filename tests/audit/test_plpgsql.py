"""Which columns a BEFORE UPDATE trigger guards, read from its PL/pgSQL body."""

from __future__ import annotations

import pytest

from rlsguard.audit.plpgsql import trigger_facts


def body(gate: str) -> str:
    return f"""
begin
  if {gate} then
    if new.owner <> old.owner or new.personal is distinct from old.personal then
      raise exception 'cannot change owner or personal';
    end if;
  end if;
  return new;
end;
"""


@pytest.mark.parametrize(
    "gate",
    [
        "current_user in ('authenticated', 'anon')",
        "CURRENT_USER IN ('anon', 'authenticated', 'service_role')",
        "current_role not in ('postgres', 'service_role')",
        "current_user = 'anon' or current_user = 'authenticated'",
        "auth.role() <> 'service_role'",
    ],
)
def test_a_guard_for_every_api_role_is_unconditional(gate: str) -> None:
    facts = trigger_facts(body(gate), "plpgsql")
    assert facts.guarded == {"owner", "personal"}
    assert facts.conditional == frozenset()


@pytest.mark.parametrize(
    "gate",
    [
        "current_user = 'authenticated'",  # anon passes unguarded
        "current_user not in ('anon')",
        "current_user in ('authenticated', some_setting())",
        "new.personal",
        "session_user in ('authenticated', 'anon')",  # the API connects as authenticator
    ],
)
def test_a_guard_some_api_role_escapes_stays_conditional(gate: str) -> None:
    facts = trigger_facts(body(gate), "plpgsql")
    assert facts.guarded == frozenset()
    assert facts.conditional == {"owner", "personal"}


def test_an_else_branch_keeps_the_gate_conditional() -> None:
    text = body("current_user in ('authenticated', 'anon')").replace(
        "  end if;\n  return", "  elsif true then\n    null;\n  end if;\n  return", 1
    )
    facts = trigger_facts(text, "plpgsql")
    assert facts.guarded == frozenset()
