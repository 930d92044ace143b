"""Which tables a mutant can reach: through policies, caller-rights helpers, views and
triggers, never through a definer helper whose owner bypasses RLS."""

from __future__ import annotations

from rlsguard.catalog.surface import Catalog, Function, Policy, Role, Table, View
from rlsguard.mutate.depends import Dependents, Trigger
from rlsguard.mutate.generate import generate
from rlsguard.mutate.model import Mutant


def table(name: str, using: str) -> Table:
    select = Policy("public", name, f"{name}_select", "SELECT", True, ("authenticated",),  # type: ignore[arg-type]
                    using, None, using, None)  # fmt: skip
    return Table("public", name, "table", "postgres", True, False, True, policies=(select,))


def helper(name: str, body: str, *, definer: bool, owner: str = "postgres") -> Function:
    return Function("private", name, "", "uuid", "function", "sql", definer, owner,
                    ('search_path=""',), "stable", False, False, body, body)  # fmt: skip


def catalog() -> Catalog:
    tables = (
        table("classes", "id IN (SELECT private.my_classes())"),  # definer: bypasses RLS
        table("grades", "class_id IN (SELECT id FROM public.classes)"),  # reads classes
        table("notes", "id IN (SELECT private.visible_notes())"),  # invoker helper
        table("rooms", "id IN (SELECT room_id FROM public.timetable)"),  # through a view
        table("audit", "true"),
    )
    functions = (
        helper("my_classes", "select id from public.classes where teacher_id = auth.uid()",
               definer=True),
        helper("visible_notes", "select id from classes join notes using (id)", definer=False),
        helper("weak_definer", "select id from public.classes", definer=True, owner="app"),
    )  # fmt: skip
    timetable = View("public", "timetable", "view", "postgres", True, False, True, "",
                     "", ("public.classes",))  # fmt: skip
    roles = (Role("postgres", True, True, True, ()), Role("app", False, False, True, ()))
    return Catalog(("public",), (), tables, (timetable,), functions, (), roles, 170000)


def reached(deps: Dependents, cat: Catalog, prefix: str) -> set[str] | None:
    mutant = next(m for m in generate(cat) if m.id.startswith(prefix))
    found = deps.tables(mutant)
    return None if found is None else set(found)


def test_a_tables_policies_and_grants_reach_who_reads_it_with_the_callers_rights() -> None:
    cat = catalog()
    deps = Dependents.build(cat)
    # grades reads classes directly, notes through an invoker helper, rooms through a view;
    # the classes policy itself only through my_classes(), a definer owned by a superuser.
    assert reached(deps, cat, "public.classes.classes_select/") == {
        "public.classes", "public.grades", "public.notes", "public.rooms",
    }  # fmt: skip
    assert reached(deps, cat, "public.audit/disable_rls") == {"public.audit"}


def test_a_helper_reaches_every_policy_that_calls_it() -> None:
    cat = catalog()
    deps = Dependents.build(cat)
    assert reached(deps, cat, "private.my_classes()/") == {"public.classes"}
    # (only definer helpers are mutated; an invoker one changed by hand reaches its callers)
    changed = Mutant("private.visible_notes()/x", "x", "private.visible_notes()", "function",
                     (), "", "")  # fmt: skip
    assert deps.tables(changed) == {"public.notes"}
    unknown = Mutant("private.gone()/x", "x", "private.gone()", "function", (), "", "")
    assert deps.tables(unknown) is None  # not in the catalog: every cell runs


def test_a_definer_that_does_not_bypass_rls_and_triggers_count_too() -> None:
    cat = catalog()
    trigger = Trigger("public.audit", "private.log", False, "app", "insert into public.grades")
    deps = Dependents.build(cat, [trigger])
    # audit's trigger writes grades with the caller's rights
    assert "public.audit" in (reached(deps, cat, "public.grades.grades_select/") or set())
    # weak_definer's owner does not bypass RLS: classes' policies still reach its callers
    assert Dependents.build(cat).functions["private.weak_definer"][1] is True
    assert Dependents.build(cat).functions["private.my_classes"][1] is False
