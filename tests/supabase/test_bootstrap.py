"""The bootstrap: roles, schemas, auth, storage, grants, both grant modes, idempotence."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from rlsguard.errors import BootstrapError, FidelityWarning
from rlsguard.supabase import ROLES, bootstrap
from rlsguard.supabase.roles import memberships_for
from rlsguard.vocab import API_ROLES
from tests.supabase.conftest import SupabaseCluster, acting_as, sqlstate_of

ROLE_ATTRIBUTES = """
select rolcanlogin, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication,
       rolbypassrls, coalesce(rolconfig, '{}')
from pg_roles where rolname = %s
"""


@pytest.fixture(scope="module")
def conn(sb: SupabaseCluster) -> Any:
    with sb.connect() as conn:
        yield conn


@pytest.mark.parametrize("spec", ROLES, ids=lambda spec: spec.name)
def test_roles_have_supabases_attributes(conn: psycopg.Connection[Any], spec: Any) -> None:
    row = conn.execute(ROLE_ATTRIBUTES, (spec.name,)).fetchone()
    assert row is not None, f"role {spec.name} missing"
    assert dict(zip(spec.attributes(), row[:7], strict=True)) == spec.attributes()
    settings = dict(item.split("=", 1) for item in row[7])
    for name, value in spec.settings.items():
        assert settings[name] == value.strip("'")


def test_the_roles_that_decide_rls(conn: psycopg.Connection[Any]) -> None:
    rows = {
        name: tuple(attributes)
        for name, *attributes in conn.execute(
            "select rolname, rolsuper, rolbypassrls, rolcanlogin, rolinherit from pg_roles "
            "where rolname in "
            "('anon', 'authenticated', 'service_role', 'authenticator', 'postgres')"
        ).fetchall()
    }
    assert rows["anon"] == (False, False, False, True)
    assert rows["authenticated"] == (False, False, False, True)
    assert rows["service_role"] == (False, True, False, True)
    assert rows["authenticator"] == (False, False, True, False)
    assert rows["postgres"] == (False, True, True, True)


def test_memberships(sb: SupabaseCluster, conn: psycopg.Connection[Any]) -> None:
    found = {
        (role, member): admin
        for role, member, admin in conn.execute(
            "select r.rolname, m.rolname, a.admin_option from pg_auth_members a "
            "join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member"
        ).fetchall()
    }
    major = sb.server.major
    for membership in memberships_for(major):
        key = (membership.role, membership.member)
        assert key in found, key
        wanted_admin = membership.admin_from is not None and major >= membership.admin_from
        assert found[key] == wanted_admin, key
    for role in API_ROLES:
        assert (role, "authenticator") in found
    assert ("supabase_admin", "authenticator") not in found
    assert ("supabase_auth_admin", "postgres") not in found


def test_authenticator_only_switches_roles(conn: psycopg.Connection[Any]) -> None:
    # NOINHERIT: authenticator holds none of the API roles' privileges, but may SET ROLE to them.
    rows = conn.execute(
        "select pg_has_role('authenticator', r, 'USAGE'), pg_has_role('authenticator', r, 'MEMBER')"
        " from unnest(%s::text[]) r",
        (list(API_ROLES),),
    ).fetchall()
    assert rows == [(False, True)] * 3


def test_database_and_public_schema(sb: SupabaseCluster, conn: psycopg.Connection[Any]) -> None:
    owner = conn.execute(
        "select pg_get_userbyid(datdba) from pg_database where datname = 'postgres'"
    ).fetchone()
    assert owner == ("postgres",)
    assert conn.execute(
        "select has_schema_privilege('postgres', 'public', 'CREATE'),"
        " has_schema_privilege('anon', 'public', 'CREATE'),"
        " has_schema_privilege('anon', 'public', 'USAGE')"
    ).fetchone() == (True, False, True)


def test_extensions_live_in_their_schema(
    sb: SupabaseCluster, conn: psycopg.Connection[Any]
) -> None:
    installed = dict(
        conn.execute(
            "select extname, extnamespace::regnamespace::text from pg_extension"
        ).fetchall()
    )
    available = sb.server.binaries.available_extensions()
    for name in ("pgcrypto", "uuid-ossp", "pg_stat_statements"):
        if name in available:
            assert installed[name] == "extensions"
    with acting_as(conn, "postgres"):
        conn.execute("select set_config('search_path', '\"$user\", public, extensions', true)")
        if "pgcrypto" in available:
            assert conn.execute("select length(gen_random_bytes(8))").fetchone() == (8,)


AUTH_USERS_COLUMNS = [
    "instance_id",
    "id",
    "aud",
    "role",
    "email",
    "encrypted_password",
    "email_confirmed_at",
    "invited_at",
    "confirmation_token",
    "confirmation_sent_at",
    "recovery_token",
    "recovery_sent_at",
    "email_change_token_new",
    "email_change",
    "email_change_sent_at",
    "last_sign_in_at",
    "raw_app_meta_data",
    "raw_user_meta_data",
    "is_super_admin",
    "created_at",
    "updated_at",
    "phone",
    "phone_confirmed_at",
    "phone_change",
    "phone_change_token",
    "phone_change_sent_at",
    "confirmed_at",
    "email_change_token_current",
    "email_change_confirm_status",
    "banned_until",
    "reauthentication_token",
    "reauthentication_sent_at",
    "is_sso_user",
    "deleted_at",
    "is_anonymous",
]


def test_auth_users_has_every_column(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "select column_name, is_generated from information_schema.columns "
        "where table_schema = 'auth' and table_name = 'users' order by ordinal_position"
    ).fetchall()
    assert [name for name, _ in rows] == AUTH_USERS_COLUMNS
    assert dict(rows)["confirmed_at"] == "ALWAYS"
    indexes = {
        name
        for (name,) in conn.execute(
            "select indexname from pg_indexes where schemaname = 'auth' and tablename = 'users'"
        ).fetchall()
    }
    assert {"users_pkey", "users_email_partial_key", "users_phone_key"} <= indexes


@pytest.mark.parametrize(
    "table", ["users", "identities", "sessions", "refresh_tokens", "audit_log_entries"]
)
def test_auth_tables_are_closed_to_the_api(conn: psycopg.Connection[Any], table: str) -> None:
    owner, rls = conn.execute(
        "select pg_get_userbyid(relowner), relrowsecurity from pg_class where oid = %s::regclass",
        (f"auth.{table}",),
    ).fetchone()
    assert (owner, rls) == ("supabase_auth_admin", True)
    for role in API_ROLES:
        assert conn.execute(
            "select has_table_privilege(%s, %s, 'SELECT')", (role, f"auth.{table}")
        ).fetchone() == (False,)
    assert conn.execute(
        "select has_table_privilege('postgres', %s, 'SELECT, INSERT, TRIGGER')", (f"auth.{table}",)
    ).fetchone() == (True,)


def test_auth_functions_belong_to_the_auth_admin(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "select p.proname, pg_get_userbyid(p.proowner), pg_get_function_result(p.oid) "
        "from pg_proc p where p.pronamespace = 'auth'::regnamespace order by 1"
    ).fetchall()
    assert rows == [
        ("email", "supabase_auth_admin", "text"),
        ("jwt", "supabase_auth_admin", "jsonb"),
        ("role", "supabase_auth_admin", "text"),
        ("uid", "supabase_auth_admin", "uuid"),
    ]


def test_storage_tables_and_grants(conn: psycopg.Connection[Any]) -> None:
    for table in ("storage.buckets", "storage.objects"):
        owner, rls = conn.execute(
            "select pg_get_userbyid(relowner), relrowsecurity from pg_class "
            "where oid = %s::regclass",
            (table,),
        ).fetchone()
        assert (owner, rls) == ("supabase_storage_admin", True)
        for role in API_ROLES:
            assert conn.execute(
                "select has_table_privilege(%s, %s, 'SELECT, INSERT, UPDATE, DELETE')",
                (role, table),
            ).fetchone() == (True,)
        assert conn.execute(
            "select has_table_privilege('postgres', %s, 'SELECT WITH GRANT OPTION')", (table,)
        ).fetchone() == (True,)
    columns = {
        name
        for (name,) in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'storage' and table_name = 'objects'"
        ).fetchall()
    }
    assert {"owner", "owner_id", "path_tokens", "user_metadata", "metadata", "version"} <= columns


def test_storage_path_helpers(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute(
        "select storage.foldername('public/subfolder/avatar.png'),"
        " storage.filename('public/subfolder/avatar.png'),"
        " storage.extension('public/subfolder/avatar.final.png'),"
        " storage.extension('public/README')"
    ).fetchone()
    assert row == (["public", "subfolder"], "avatar.png", "png", "README")


def test_storage_rows_cannot_be_deleted_directly(sb: SupabaseCluster, fresh_db: Any) -> None:
    with sb.connect(fresh_db()) as conn:
        conn.execute("insert into storage.buckets (id, name) values ('b', 'b')")
        conn.execute("insert into storage.objects (bucket_id, name) values ('b', 'u1/a/x.png')")
        path_tokens = conn.execute("select path_tokens from storage.objects").fetchone()
        assert path_tokens == (["u1", "a", "x.png"],)
        assert sqlstate_of(conn, "delete from storage.objects") == "42501"
        with conn.transaction():
            conn.execute("set local storage.allow_delete_query = 'true'")
            conn.execute("delete from storage.objects")
        assert conn.execute("select count(*) from storage.objects").fetchone() == (0,)


def test_realtime_publication_and_migration_ledgers(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute(
        "select pg_get_userbyid(pubowner) from pg_publication where pubname = 'supabase_realtime'"
    ).fetchone() == ("postgres",)
    assert conn.execute(
        "select to_regclass('supabase_migrations.schema_migrations') is not null,"
        " to_regclass('supabase_migrations.seed_files') is not null,"
        " pg_get_userbyid(nspowner) from pg_namespace where nspname = 'supabase_migrations'"
    ).fetchone() == (True, True, "postgres")


CATALOG_SNAPSHOT = """
select (select count(*) from pg_class), (select count(*) from pg_proc),
       (select count(*) from pg_roles), (select count(*) from pg_default_acl),
       (select count(*) from pg_auth_members), (select string_agg(rolname, ',' order by rolname)
        from pg_roles where rolname !~ '^pg_')
"""


def test_bootstrap_is_idempotent(sb: SupabaseCluster, fresh_db: Any) -> None:
    dbname = fresh_db()
    with sb.connect(dbname) as conn:
        before = conn.execute(CATALOG_SNAPSHOT).fetchone()
    report = bootstrap(sb.server, dbname=dbname)
    with sb.connect(dbname) as conn:
        after = conn.execute(CATALOG_SNAPSHOT).fetchone()
    assert after == before
    assert report.created_roles == []
    assert report.applied == ["grant mode: auto-expose"]
    assert {"roles", "auth", "storage", "auth functions", "realtime publication"} <= set(
        report.skipped
    )


def test_bootstrap_none_leaves_grant_mode_alone(sb: SupabaseCluster, fresh_db: Any) -> None:
    dbname = fresh_db("private")
    report = bootstrap(sb.server, dbname=dbname, auto_expose=None)
    assert "grant mode" in report.skipped
    with sb.connect(dbname) as conn:
        conn.execute("set role postgres")
        conn.execute("create table public.t (id int)")
        assert conn.execute(
            "select has_table_privilege('anon', 'public.t', 'SELECT')"
        ).fetchone() == (False,)


def test_bootstrap_needs_a_superuser(sb: SupabaseCluster) -> None:
    with (
        sb.connect(user="postgres") as conn,
        pytest.raises(BootstrapError, match="needs a superuser"),
    ):
        bootstrap(conn)


def test_existing_roles_are_reported_not_altered(sb: SupabaseCluster) -> None:
    with sb.connect() as conn:
        conn.execute("alter role supabase_read_only_user nobypassrls")
        try:
            with pytest.warns(FidelityWarning, match="supabase_read_only_user"):
                report = bootstrap(conn, auto_expose=None)
            bypass = conn.execute(
                "select rolbypassrls from pg_roles where rolname = 'supabase_read_only_user'"
            ).fetchone()
        finally:
            conn.execute("alter role supabase_read_only_user bypassrls")
    assert bypass == (False,)
    assert any(
        "supabase_read_only_user" in w and "NOBYPASSRLS here, BYPASSRLS on Supabase" in w
        for w in report.warnings
    )


# -- grant modes ---------------------------------------------------------------------------


def _new_table(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("set local role postgres")
        conn.execute("create table public.notes (id serial primary key, body text)")
        conn.execute("insert into public.notes (body) values ('hi')")
        conn.execute("create function public.answer() returns int language sql as 'select 42'")


@pytest.mark.parametrize("role", API_ROLES)
def test_legacy_mode_exposes_new_tables(sb: SupabaseCluster, fresh_db: Any, role: str) -> None:
    with sb.connect(fresh_db("expose")) as conn:
        _new_table(conn)
        with acting_as(conn, role):
            assert conn.execute("select count(*) from public.notes").fetchone() == (1,)
            assert conn.execute("select public.answer()").fetchone() == (42,)
            conn.execute("select nextval('public.notes_id_seq')")


@pytest.mark.parametrize("role", API_ROLES)
def test_no_auto_expose_mode_denies_new_tables(
    sb: SupabaseCluster, fresh_db: Any, role: str
) -> None:
    with sb.connect(fresh_db("private")) as conn:
        _new_table(conn)
        with (
            acting_as(conn, role),
            pytest.raises(
                psycopg.errors.InsufficientPrivilege, match="permission denied for table notes"
            ),
        ):
            conn.execute("select count(*) from public.notes")
        with acting_as(conn, role):
            # PUBLIC keeps EXECUTE on functions: the revoke only removed the explicit grants.
            assert conn.execute("select public.answer()").fetchone() == (42,)
        leftovers = conn.execute(
            "select has_table_privilege(%s, 'public.notes', 'TRUNCATE, REFERENCES, TRIGGER'),"
            " has_table_privilege(%s, 'public.notes', 'SELECT'),"
            " has_sequence_privilege(%s, 'public.notes_id_seq', 'UPDATE'),"
            " has_sequence_privilege(%s, 'public.notes_id_seq', 'USAGE')",
            (role, role, role, role),
        ).fetchone()
        assert leftovers == (True, False, True, False)


def test_default_acl_rows(sb: SupabaseCluster, conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "select pg_get_userbyid(defaclrole), defaclobjtype from pg_default_acl "
        "where defaclnamespace = 'public'::regnamespace order by 1, 2"
    ).fetchall()
    assert rows == [
        ("postgres", "S"),
        ("postgres", "f"),
        ("postgres", "r"),
        ("supabase_admin", "S"),
        ("supabase_admin", "f"),
        ("supabase_admin", "r"),
    ]


def test_bootstrap_timing_is_reported(sb: SupabaseCluster) -> None:
    # Measured, never asserted against a budget: see the report in the test output.
    assert sb.report.seconds > 0
    print(
        f"\nbootstrap on PostgreSQL {sb.report.server_version}: {sb.report.seconds * 1000:.0f} ms"
    )
