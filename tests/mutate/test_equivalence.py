"""Equivalences that need the whole table: SELECT policies that mask a dropped condition,
a WITH CHECK that still refuses, WITH CHECK equal to USING."""

from __future__ import annotations

from rlsguard.catalog.surface import Catalog, Grant, Policy, Role, Table
from rlsguard.mutate.equivalence import equivalent
from rlsguard.mutate.generate import generate

MINE = "school_id = (SELECT private.school_id())"
ADMIN = "(SELECT private.is_admin())"


def policy(name: str, command: str, using: str | None, check: str | None = None) -> Policy:
    return Policy("public", "notes", name, command, True, ("authenticated",),  # type: ignore[arg-type]
                  using, check, using, check)  # fmt: skip


def catalog(*policies: Policy) -> Catalog:
    notes = Table(
        "public", "notes", "table", "postgres", True, False, True,
        grants=(Grant("authenticated", "SELECT"), Grant("authenticated", "UPDATE"),
                Grant("authenticated", "DELETE")),
        effective={"authenticated": frozenset({"SELECT", "UPDATE", "DELETE"})},
        policies=policies,
    )  # fmt: skip
    roles = (Role("anon", False, False, False, ()), Role("authenticated", False, False, False, ()))
    return Catalog(("public",), (), (notes,), (), (), (), roles, 170000)


def why(cat: Catalog, mutant_id: str) -> str:
    mutant = next(m for m in generate(cat) if m.id == mutant_id)
    return equivalent(mutant, cat)


def test_a_condition_every_select_policy_requires_is_masked_for_updates_and_deletes() -> None:
    cat = catalog(
        policy("notes_select", "SELECT", f"{MINE} AND {ADMIN}"),
        policy("notes_delete", "DELETE", f"{MINE} AND {ADMIN}"),
        policy("notes_update", "UPDATE", f"{MINE} AND {ADMIN}", f"{MINE} AND body IS NOT NULL"),
    )
    assert "every SELECT policy" in why(cat, "public.notes.notes_delete/using:drop_conjunct#0")
    assert "every SELECT policy" in why(cat, "public.notes.notes_update/using:drop_conjunct#1")
    # the new row of an UPDATE ... RETURNING must pass the SELECT policies too
    assert "writes" in why(cat, "public.notes.notes_update/with_check:drop_conjunct#0")
    # a condition no SELECT policy asks for is not masked
    assert why(cat, "public.notes.notes_update/with_check:drop_conjunct#1") == ""


def test_a_select_disjunct_without_the_condition_unmasks_it() -> None:
    cat = catalog(
        policy("notes_select", "SELECT", f"({MINE} AND {ADMIN}) OR owner_id = auth.uid()"),
        policy("notes_delete", "DELETE", f"{MINE} AND {ADMIN}"),
    )
    assert why(cat, "public.notes.notes_delete/using:drop_conjunct#0") == ""
    both = catalog(
        policy("notes_select", "SELECT", f"({MINE} AND {ADMIN}) OR ({MINE} AND shared)"),
        policy("notes_delete", "DELETE", f"{MINE} AND {ADMIN}"),
    )
    assert "every SELECT policy" in why(both, "public.notes.notes_delete/using:drop_conjunct#0")


def test_a_select_policy_for_other_rows_does_not_unmask_it() -> None:
    # as storage.objects: one bucket's rows are shown to everyone, the other's to the owner
    own = "owner_id = (SELECT auth.uid())"
    cat = catalog(
        policy("public_select", "SELECT", "kind = 'public'::text"),
        policy("private_select", "SELECT", f"kind = 'private'::text AND {own}"),
        policy("private_delete", "DELETE", f"kind = 'private'::text AND {own}"),
    )
    # the rows it still admits are private ones: only private_select shows them
    assert "every SELECT policy" in why(cat, "public.notes.private_delete/using:drop_conjunct#1")
    # without the kind, public rows of other owners are shown and would be deleted
    assert why(cat, "public.notes.private_delete/using:drop_conjunct#0") == ""


def test_a_row_independent_using_condition_the_only_with_check_keeps() -> None:
    alone = catalog(
        policy("notes_select", "SELECT", "shared"),
        policy("notes_update", "UPDATE", f"{MINE} AND {ADMIN}", f"{MINE} AND {ADMIN}"),
    )
    assert "only UPDATE policy" in why(alone, "public.notes.notes_update/using:drop_conjunct#1")
    # reading a column, the condition can be met by rewriting the row: not equivalent
    assert why(alone, "public.notes.notes_update/using:drop_conjunct#0") == ""
    # another UPDATE policy's WITH CHECK may accept the new row
    two = catalog(
        policy("notes_select", "SELECT", "shared"),
        policy("notes_update", "UPDATE", f"{MINE} AND {ADMIN}", f"{MINE} AND {ADMIN}"),
        policy("notes_update_own", "UPDATE", "owner_id = auth.uid()", "owner_id = auth.uid()"),
    )
    assert why(two, "public.notes.notes_update/using:drop_conjunct#1") == ""


def test_removing_a_with_check_that_repeats_using_changes_nothing() -> None:
    cat = catalog(
        policy("notes_select", "SELECT", "shared"),
        policy("same", "UPDATE", "owner_id = auth.uid()", "owner_id = auth.uid()"),
        policy("stricter", "UPDATE", "owner_id = auth.uid()", f"owner_id = auth.uid() AND {ADMIN}"),
    )
    assert "repeats USING" in why(cat, "public.notes.same/remove_with_check")
    assert why(cat, "public.notes.stricter/remove_with_check") == ""
