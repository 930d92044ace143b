"""ALTER ROLE/DATABASE ... SET, read once for sessions (PostgREST) and for clones (the janitor)."""

from __future__ import annotations

from collections.abc import Callable

from rlsguard.catalog.settings import Setting, database_settings, read_settings, role_settings
from rlsguard.harness.engine import Engine


def test_role_and_database_settings(courses_engine: Engine, clone_of: Callable[..., str]) -> None:
    name = clone_of()
    with courses_engine.connect(name, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE authenticated IN DATABASE "{name}" SET statement_timeout = 1234')
        conn.execute(f"ALTER DATABASE \"{name}\" SET app.flag = 'on'")
        conn.execute(f"ALTER ROLE anon IN DATABASE \"{name}\" SET app.custom = 'x'")
        conn.execute(f'ALTER ROLE anon IN DATABASE "{name}" SET log_min_duration_statement = 5')
        mine = database_settings(conn, name)
        by_role = role_settings(conn)
        everything = read_settings(conn)
    assert Setting("authenticated", False, "statement_timeout", "1234", True) in mine
    assert Setting(None, False, "app.flag", "on", True) in mine
    assert all(not s.all_databases for s in mine)
    # This database's own setting wins over the role's every-database one (8s on Supabase).
    assert by_role["authenticated"]["statement_timeout"] == "1234"
    assert by_role["anon"]["app.custom"] == "x"  # placeholders count
    assert "log_min_duration_statement" not in by_role["anon"]  # superuser-only: PostgREST skips
    assert set(by_role) == {"anon", "authenticated", "service_role"}
    assert {s for s in everything if not s.all_databases} == set(mine)
