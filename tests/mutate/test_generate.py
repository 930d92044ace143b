"""Mutants of a hand-made catalog: every listed operator, stable ids, equivalences."""

from __future__ import annotations

from rlsguard.mutate.equivalence import WaiverRule, equivalent, unused_waivers, waiver_for
from rlsguard.mutate.execute import triage
from rlsguard.mutate.generate import generate
from rlsguard.policy.catalog import Catalog, Column, Function, Grant, Policy, Role, Table, View


def policy(name: str, command: str, using: str | None, check: str | None = None,
           permissive: bool = True) -> Policy:  # fmt: skip
    return Policy("public", "notes", name, command, permissive, ("authenticated",),  # type: ignore[arg-type]
                  using, check, using, check)  # fmt: skip


def catalog() -> Catalog:
    notes = Table(
        "public", "notes", "table", "postgres", True, False, True,
        grants=(Grant("authenticated", "SELECT"), Grant("authenticated", "UPDATE"),
                Grant("PUBLIC", "DELETE")),
        effective={"authenticated": frozenset({"SELECT", "UPDATE", "DELETE"})},
        columns=(Column("id", "uuid"), Column("body", "text", (Grant("anon", "UPDATE"),))),
        policies=(
            policy("notes_select", "SELECT", "owner_id = auth.uid() or shared"),
            policy("notes_update", "UPDATE", "owner_id = auth.uid()",
                   "owner_id = auth.uid() and (select private.is_admin())"),
            policy("notes_guard", "ALL", "not archived", permissive=False),
        ),
    )  # fmt: skip
    helper = Function(
        "private", "is_admin", "", "boolean", "function", "sql", True, "postgres",
        ('search_path=""',), "stable", False, False, "select true", "SELECT true",
    )  # fmt: skip
    roster = View("public", "roster", "view", "postgres", True, False, True, "select 1",
                  "SELECT 1", ("public.notes",))  # fmt: skip
    roles = (Role("anon", False, False, False, ()), Role("authenticated", False, False, False, ()))
    return Catalog(("public",), (), (notes,), (roster,), (helper,), (), roles, 170000)


def test_every_operator_family_is_generated() -> None:
    ids = {m.id for m in generate(catalog())}
    for expected in (
        "public.notes.notes_select/drop_policy",
        "public.notes.notes_select/using:true",
        "public.notes.notes_select/using:false",
        "public.notes.notes_select/using:drop_disjunct#0",
        "public.notes.notes_select/using:uid_always_true#0",
        "public.notes.notes_select/using:flip_equality#0",
        "public.notes.notes_update/with_check:drop_conjunct#1",
        "public.notes.notes_update/remove_with_check",
        "public.notes.notes_select/to_public",
        "public.notes.notes_select/to_anon",
        "public.notes.notes_guard/restrictive_to_permissive",
        "public.notes/disable_rls",
        "public.notes/revoke:authenticated:SELECT",
        "public.notes/grant:anon:INSERT",
        "public.notes(body)/revoke:anon:UPDATE",
        "private.is_admin()/returns_true",
        "private.is_admin()/drop_search_path",
        "public.roster/drop_security_invoker",
    ):
        assert expected in ids, expected


def test_the_policy_mutant_recreates_it_with_one_change() -> None:
    mutant = next(m for m in generate(catalog()) if m.id.endswith("notes_select/using:true"))
    assert mutant.apply[0] == "DROP POLICY notes_select ON public.notes"
    assert "USING (TRUE)" in mutant.apply[1]
    assert "-  USING (owner_id = auth.uid() or shared)" in mutant.diff()


def test_cheap_equivalences() -> None:
    cat = catalog()
    by_id = {m.id: m for m in generate(cat)}
    # DELETE is granted to PUBLIC: revoking it from authenticated changes nothing
    assert "PUBLIC" in equivalent(by_id["public.notes/revoke:authenticated:DELETE"], cat)
    # anon holds no SELECT on notes: widening TO to anon reaches nobody new
    assert "nobody new" in equivalent(by_id["public.notes.notes_select/to_anon"], cat)
    # a row-independent WITH CHECK conjunct that USING... does not contain: not equivalent
    assert equivalent(by_id["public.notes.notes_update/with_check:drop_conjunct#1"], cat) == ""
    assert equivalent(by_id["public.notes.notes_select/using:true"], cat) == ""


def test_waivers_match_globs_and_unused_ones_are_reported() -> None:
    mutants = generate(catalog())
    waivers = [WaiverRule("private.*()/drop_search_path", "lint covers it"),
               WaiverRule("public.gone/*", "stale")]  # fmt: skip
    decided, to_run = triage(mutants, catalog(), waivers)
    waived = [o for o in decided if o.status == "waived"]
    assert [o.mutant.id for o in waived] == ["private.is_admin()/drop_search_path"]
    assert waived[0].reason == "lint covers it"
    assert waiver_for(to_run[0], waivers) is None
    assert unused_waivers(mutants, waivers) == [waivers[1]]
