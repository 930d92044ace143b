"""The fixtures users hold are typed with the classes they get (no ``Any``)."""

from __future__ import annotations

import inspect

from rlsguard.pytest import fixtures


def test_public_fixtures_name_their_types() -> None:
    names = [n for n, v in vars(fixtures).items() if n.startswith(("rlsguard_", "private_"))]
    assert sorted(names) == [
        "private_postgres", "rlsguard_auth", "rlsguard_clone", "rlsguard_db", "rlsguard_engine",
        "rlsguard_isolation", "rlsguard_personas", "rlsguard_stack",
    ]  # fmt: skip
    for name in names:
        function = getattr(fixtures, name).__wrapped__
        annotations = inspect.get_annotations(function)
        assert annotations, name
        assert all("Any" not in str(a) for a in annotations.values()), (name, annotations)
    db = inspect.get_annotations(fixtures.rlsguard_db.__wrapped__)
    assert db["return"] == "Iterator[Database]"
