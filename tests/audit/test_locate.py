"""Which file and line created an object, across migrations that redefine it."""

from __future__ import annotations

from rlsguard.audit.findings import Location
from rlsguard.audit.locate import Locator, SourceFile

FIRST = """\
create table public.grades (id bigint primary key);
alter table grades enable row level security;
create policy grades_read on public.grades for select using (true);
grant select on public.grades to authenticated;
create function public.avg_grade() returns int language sql as $$ select 1 $$;
create view reports as select 1 as x;
"""
SECOND = """\
-- rebuilt without grants
create table public.grades_new (id bigint primary key);
drop table public.grades;
alter table public.grades_new rename to grades;
create policy grades_read on public.grades for select using (id > 0);
"""


def test_creations_are_found_by_kind_and_name() -> None:
    locator = Locator([SourceFile("supabase/migrations/1_first.sql", FIRST)])
    where = "supabase/migrations/1_first.sql"
    assert locator.relation("public.grades") == Location(where, 1)
    assert locator.rls("public.grades") == Location(where, 2)  # unqualified: public
    assert locator.policy("public.grades", "grades_read") == Location(where, 3)
    assert locator.grant("public.grades") == Location(where, 4)
    assert locator.function("public.avg_grade") == Location(where, 5)
    assert locator.relation("public.reports") == Location(where, 6)
    assert locator.policy("public.grades", "missing") == Location(where, 1)  # the table
    assert locator.relation("public.nothing") is None


def test_later_migrations_win_and_drops_forget() -> None:
    locator = Locator(
        [
            SourceFile("supabase/migrations/1_first.sql", FIRST),
            SourceFile("supabase/migrations/2_second.sql", SECOND),
        ]
    )
    second = "supabase/migrations/2_second.sql"
    # The table now called grades was created as grades_new; its old grant went with the drop.
    assert locator.relation("public.grades") == Location(second, 2)
    assert locator.grant("public.grades") == Location(second, 2)
    assert locator.rls("public.grades") == Location(second, 2)
    assert locator.policy("public.grades", "grades_read") == Location(second, 5)
    latest = locator.latest([Location("supabase/migrations/1_first.sql", 9), Location(second, 2)])
    assert latest == Location(second, 2)


def test_a_file_that_does_not_parse_is_skipped() -> None:
    locator = Locator([SourceFile("broken.sql", "create tabel x ();")])
    assert len(locator) == 0
