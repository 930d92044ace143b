"""supautils' privileged_role_allowed_configs and reserved_roles, entry by entry.

Every entry of the list is set by a migration (ALTER ROLE ... SET and plain SET) through the
runner, and refused on a plain postgres connection, as the library decides on Supabase.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rlsguard.supabase import MigrationError, SupabaseProject, apply_project
from rlsguard.supabase.supautils import ALLOWED_CONFIGS, RESERVED_ROLES, allowed_config
from tests.supabase.conftest import SupabaseCluster, sqlstate_of

# A value each setting accepts; a "prefix.*" entry is exercised with one real name under it.
VALUES = {
    "auto_explain.log_min_duration": "'1s'",
    "auto_explain.log_nested_statements": "on",
    "log_lock_waits": "on",
    "log_min_messages": "warning",
    "pg_net.batch_size": "200",
    "pg_net.ttl": "'1 day'",
    "pgaudit.log": "'ddl'",
    "pgaudit.log_catalog": "off",
    "pgaudit.log_client": "off",
    "pgaudit.log_level": "log",
    "pgaudit.log_relation": "on",
    "pgaudit.log_rows": "off",
    "pgaudit.log_statement": "on",
    "pgaudit.log_statement_once": "off",
    "pgaudit.role": "auditor",
    "pgrst.*": ("pgrst.db_pre_request", "'public.check_request'"),
    "plan_filter.*": ("plan_filter.statement_cost_limit", "100000"),
    "safeupdate.enabled": "0",
    "session_replication_role": "replica",
    "track_io_timing": "on",
}


def _setting(entry: str) -> tuple[str, str]:
    value = VALUES[entry]
    return value if isinstance(value, tuple) else (entry, value)


_versions = itertools.count()


def migrate(sb: SupabaseCluster, dbname: str, folder: Path, sql: str) -> Any:
    migrations = folder / "supabase" / "migrations"
    migrations.mkdir(parents=True, exist_ok=True)
    (migrations / f"{20240101000000 + next(_versions)}_x.sql").write_text(sql)
    return apply_project(
        sb.server, SupabaseProject.load(folder), dbname=dbname, run_bootstrap=False
    )


def test_every_entry_has_a_value() -> None:
    assert set(VALUES) == set(ALLOWED_CONFIGS)


def test_postgres_may_set_each_entry_in_a_migration_only(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    dbname = fresh_db()
    lines = []
    with psycopg.connect(sb.server.conninfo(dbname, user="postgres"), autocommit=True) as conn:
        for entry in ALLOWED_CONFIGS:
            name, value = _setting(entry)
            assert allowed_config(name), entry
            per_role = f"alter role authenticator in database {dbname} set {name} = {value}"
            assert sqlstate_of(conn, per_role) == "42501", entry  # plain postgres: refused
            context = conn.execute("select context from pg_settings where name = %s", (name,))
            if context.fetchone() == ("superuser",):  # a placeholder may be SET by anyone
                assert sqlstate_of(conn, f"set {name} = {value}") == "42501", entry
            lines += [f"{per_role};", f"set {name} = {value};"]
            lines.append(f"insert into public.seen values ('{name}', current_setting('{name}'));")
    report = migrate(
        sb,
        dbname,
        tmp_path,
        "create table public.seen (name text, value text);\n" + "\n".join(lines),
    )
    elevated = report.migrations[0].elevated
    assert len([e for e in elevated if "privileged_role_allowed_configs" in e]) == 2 * len(
        ALLOWED_CONFIGS
    )
    with sb.connect(dbname) as conn:
        stored = conn.execute(
            "select setconfig from pg_db_role_setting s "
            "join pg_database d on d.oid = s.setdatabase "
            "where s.setrole = 'authenticator'::regrole and d.datname = current_database()"
        ).fetchone()
        seen = dict(conn.execute("select name, value from public.seen").fetchall())
    assert stored is not None
    for entry in ALLOWED_CONFIGS:
        name, _ = _setting(entry)
        assert any(item.startswith(f"{name}=") for item in stored[0]), entry
        assert name in seen, entry


def test_a_setting_outside_the_list_stays_superuser_only(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    assert not allowed_config("log_statement")
    with pytest.raises(MigrationError) as info:
        migrate(sb, fresh_db(), tmp_path, "alter role authenticator set log_statement = 'all';")
    assert info.value.sqlstate == "42501"
    assert info.value.advice is not None
    assert "fails there too" in info.value.advice


@pytest.mark.parametrize("role", sorted(RESERVED_ROLES))
def test_reserved_roles(role: str, sb: SupabaseCluster, fresh_db: Any, tmp_path: Path) -> None:
    dbname = fresh_db()
    settings = f"alter role {role} in database {dbname} set statement_timeout = '5s';"
    if RESERVED_ROLES[role]:  # "role*": postgres may change its settings, nothing else
        migrate(sb, dbname, tmp_path, settings)
    else:
        with pytest.raises(MigrationError, match="is a reserved role") as info:
            migrate(sb, dbname, tmp_path, settings)
        assert info.value.sqlstate == "42501"
    for statement in (f"alter role {role} connection limit 5;", f"drop role {role};"):
        with pytest.raises(MigrationError, match=f'"{role}" is a reserved role'):
            migrate(sb, dbname, tmp_path / statement.split()[0], statement)
