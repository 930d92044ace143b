"""The stand-in hint names the whole line to write, keeping the stand-ins already chosen."""

from __future__ import annotations

import json
import re

from rlsguard.supabase.extensions import switch_hint


def line(hint: str) -> list[str]:
    match = re.search(r"stand_ins = (\[[^\]]*\])", hint)
    assert match, hint
    return json.loads(match.group(1))


def test_the_first_stand_in_is_added() -> None:
    hint = switch_hint("vector")
    assert hint.startswith('add stand_ins = ["vector"] to rlsguard.toml')
    assert "--stand-in vector" in hint
    assert "--rlsguard-stand-in vector" in hint


def test_a_later_stand_in_keeps_the_ones_already_chosen() -> None:
    """Pasting ``stand_ins = ["vector"]`` after adding http used to drop http again."""
    hint = switch_hint("vector", frozenset({"pg_net", "http"}))
    assert hint.startswith("set stand_ins = ")
    assert line(hint) == ["http", "pg_net", "vector"]
    assert line(switch_hint("vector", ["vector"])) == ["vector"]
