"""Every backend mode through the one engine path: a scratch server and a live database by DSN.

A second local cluster plays the scratch server (a CI ``postgres`` service: plain, nothing of
Supabase in it) and a third, bootstrapped and migrated with the project, plays the live
database (a ``supabase start`` stack or staging). The same commands run against both and
against the local template; they must agree, and afterwards the scratch server holds exactly
the databases it held before and the live database is unchanged, catalog and rows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from rlsguard.config import EngineOptions, load_config
from rlsguard.errors import BackendUnavailable, DestructiveActionRefused, RlsguardError
from rlsguard.harness.engine import Engine, load_project
from rlsguard.stack import PostgresServer, Stack
from rlsguard.stack.docker import docker_engine_available
from rlsguard.supabase.apply import apply_project
from rlsguard.supabase.roles import ROLES

runner = CliRunner()
MATRIX = Path(__file__).parent.parent / "matrix" / "data" / "notes.yaml"

# Everything a check could leave behind in a database's catalog, as one digest.
CATALOG = """
select md5(string_agg(x, E'\\n' order by x)) from (
  select 'rel ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || c.relrowsecurity::text
         || ' ' || coalesce(c.relacl::text, '')
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_t%%'
  union all
  select 'pol ' || polrelid::regclass::text || ' ' || polname || ' '
         || coalesce(pg_get_expr(polqual, polrelid), '')
         || ' ' || coalesce(pg_get_expr(polwithcheck, polrelid), '')
  from pg_policy
  union all
  select 'fn ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) || ' '
         || coalesce(p.proconfig::text, '') || ' ' || coalesce(p.proacl::text, '')
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname not in ('pg_catalog', 'information_schema')
  union all
  select 'set ' || coalesce(d.datname, '*') || ' ' || coalesce(r.rolname, '*') || ' '
         || s.setconfig::text
  from pg_db_role_setting s left join pg_database d on d.oid = s.setdatabase
  left join pg_roles r on r.oid = s.setrole
  where s.setdatabase <> 0 or %(role_settings)s
  union all
  select 'db ' || datname || ' ' || coalesce(shobj_description(oid, 'pg_database'), '') || ' '
         || coalesce(datacl::text, '') || ' ' || pg_get_userbyid(datdba)
  from pg_database
) t(x)
"""
TABLES = """
select format('%I.%I', schemaname, tablename) from pg_tables
where schemaname in ('public', 'auth', 'storage') order by 1
"""


def fingerprint(
    server: PostgresServer, dbname: str = "postgres", *, role_settings: bool = True
) -> dict[str, str]:
    """The catalog digest and one digest of every row of each user table.

    ``role_settings=False`` leaves out settings of roles in every database: on a scratch
    server the Supabase roles rlsguard creates stay, with their settings.
    """
    with server.connect(dbname, autocommit=True) as conn:
        row = conn.execute(CATALOG, {"role_settings": role_settings}).fetchone()
        out = {"catalog": row[0]}  # type: ignore[index]
        for (table,) in conn.execute(TABLES).fetchall():
            row = conn.execute(
                f"select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) "
                f"from {table} t"
            ).fetchone()
            out[table] = row[0]  # type: ignore[index]
    return out


def databases(server: PostgresServer) -> dict[str, str | None]:
    with server.connect(autocommit=True) as conn:
        rows = conn.execute(
            "select datname, shobj_description(oid, 'pg_database') from pg_database"
        ).fetchall()
    return dict(rows)


def roles(server: PostgresServer) -> set[str]:
    with server.connect(autocommit=True) as conn:
        return {r[0] for r in conn.execute("select rolname from pg_roles").fetchall()}


@pytest.fixture(scope="module")
def scratch(rlsguard_stack: Stack) -> Iterator[PostgresServer]:
    """A plain server, as a CI service container would be: rlsguard works in its own databases."""
    server = rlsguard_stack.postgres(rlsguard_stack.unique_name("scratch"))
    yield server
    rlsguard_stack.discard(server.name)


@pytest.fixture(scope="module")
def live(rlsguard_stack: Stack, notes_project: Path) -> Iterator[PostgresServer]:
    """A database that already is the project's Supabase database (bootstrapped, migrated)."""
    server = rlsguard_stack.postgres(rlsguard_stack.unique_name("live"))
    apply_project(server, load_project(notes_project))
    yield server
    rlsguard_stack.discard(server.name)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, template_cache_dir: Path) -> None:
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))
    monkeypatch.setenv("COLUMNS", "200")
    for var in ("RLSGUARD_BACKEND", "RLSGUARD_DSN", "RLSGUARD_ALLOW_DESTRUCTIVE"):
        monkeypatch.delenv(var, raising=False)


def engine_for(notes_project: Path, dsn: str, **kw: str) -> Engine:
    options = EngineOptions(supabase_dir=notes_project, backend="dsn", dsn=dsn, **kw)
    return Engine(load_config(supabase_dir=notes_project), options)


# -- the engine ---------------------------------------------------------------------------


def test_scratch_server_gets_databases_of_rlsguards_own_and_only_loses_those(
    scratch: PostgresServer, notes_project: Path
) -> None:
    before = databases(scratch)
    postgres_before = fingerprint(scratch, role_settings=False)
    with engine_for(notes_project, scratch.url()) as engine:
        assert engine.mode == "scratch"
        template = engine.template_db
        assert template.startswith(f"rlsguard_{engine.stack.run_id}_")  # type: ignore[union-attr]
        marker = databases(scratch)[template]
        assert marker == f"rlsguard run {engine.stack.run_id} template"  # type: ignore[union-attr]
        with engine.cloned_database() as db:
            assert db.scalar("select count(*) from public.notes") == 3  # migrated and seeded
            # "alter database postgres" in the migration changed rlsguard's database ...
            assert db.scalar("show lock_timeout") == "4s"
        with engine.worker_database("rlsguard_worker_x") as name, engine.connect(name) as conn:
            assert conn.execute("select count(*) from public.notes").fetchone() == (3,)
    # ... and not the server's own postgres database; every database rlsguard made is gone.
    assert databases(scratch) == before
    assert fingerprint(scratch, role_settings=False) == postgres_before
    # The cluster-wide roles Supabase needs stay (databases of other runs may use them).
    assert roles(scratch) <= {spec.name for spec in ROLES} | roles_of_a_fresh_cluster(scratch)


def roles_of_a_fresh_cluster(server: PostgresServer) -> set[str]:
    with server.connect(autocommit=True) as conn:
        rows = conn.execute("select rolname from pg_roles where oid < 16384").fetchall()
    return {r[0] for r in rows} | {server.superuser}


def test_a_database_of_another_run_survives_the_sweep(
    scratch: PostgresServer, notes_project: Path
) -> None:
    with scratch.connect(autocommit=True) as conn:
        conn.execute("create database rlsguard_other_run")
        conn.execute("comment on database rlsguard_other_run is 'rlsguard run 0ther000'")
    try:
        with engine_for(notes_project, scratch.url()) as engine:
            # A worker that died before dropping its database: the controller sweeps it.
            engine.clone("rlsguard_dead_worker")
        found = databases(scratch)
        assert "rlsguard_dead_worker" not in found
        assert found["rlsguard_other_run"] == "rlsguard run 0ther000"
    finally:
        scratch.drop_database("rlsguard_other_run")


def test_live_database_is_detected_and_never_written(
    live: PostgresServer, notes_project: Path
) -> None:
    before, dbs = fingerprint(live), databases(live)
    with engine_for(notes_project, live.url()) as engine:
        assert engine.mode == "live"
        assert engine.template_db == "postgres"
        with pytest.raises(DestructiveActionRefused, match="live Supabase database"):
            engine.clone("rlsguard_x")
        with engine.cloned_database() as db:
            db.execute("insert into public.notes (owner_id, body) select owner_id, 'x' "
                       "from public.notes limit 1")  # fmt: skip
            db.execute("create table public.left_behind ()")
            assert db.scalar("select count(*) from public.notes") == 4
            assert db.scalar("show lock_timeout") == "5s"  # never queues long behind traffic
        with pytest.raises(RlsguardError, match="never commits"), engine.cloned_database() as db:
            db.conn.execute("COMMIT")
        with (
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
            engine.cloned_database(read_only=True) as db,
        ):
            db.execute("delete from public.notes")
    assert fingerprint(live) == before
    assert databases(live) == dbs


@pytest.mark.slow
def test_a_live_database_cannot_stand_for_another_version(
    live: PostgresServer, notes_project: Path, tmp_path: Path
) -> None:
    other = tmp_path / "supabase"
    other.mkdir()
    (other / "migrations").mkdir()
    result = runner.invoke(
        app,
        ["diff", "--supabase-dir", str(notes_project), "--base", str(other),
         "--backend", "dsn", "--dsn", live.url()],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "live Supabase database" in result.output
    assert "cannot build" in result.output
    result = runner.invoke(
        app,
        ["gate", "--supabase-dir", str(notes_project), "--base", str(other),
         "--backend", "dsn", "--dsn", live.url()],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "live Supabase database" in result.output
    approved = tmp_path / "approved.json"
    where = ["--supabase-dir", str(notes_project)]
    assert runner.invoke(app, ["snapshot", *where, "-o", str(approved)]).exit_code == 0
    for command in (["blame", "--against", str(approved)], ["rollback", "--to", str(other)]):
        result = runner.invoke(
            app,
            [*command, "--supabase-dir", str(notes_project), "--backend", "dsn",
             "--dsn", live.url()],
        )  # fmt: skip
        assert result.exit_code == 2, (command, result.output)
        assert "live Supabase database" in result.output, (command, result.output)


# -- the commands -------------------------------------------------------------------------


def run_cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def surface(notes_project: Path, tmp_path: Path, *backend: str) -> dict[str, object]:
    """What snapshot, lint, probe, matrix check and record say about the project on one
    backend."""
    where = ["--supabase-dir", str(notes_project), *backend]
    snap = tmp_path / f"snap-{len(os.listdir(tmp_path))}.json"
    run_cli("snapshot", *where, "-o", str(snap))
    lint = json.loads(run_cli("lint", *where, "-f", "json"))
    probe = json.loads(run_cli("probe", *where, "-f", "json"))
    matrix = json.loads(run_cli("matrix", "check", *where, "--matrix", str(MATRIX), "--json"))
    recorded = run_cli("matrix", "record", *where, "-o", "-")
    recorded = re.sub(r"database '[^']*'", "database '...'", recorded)  # a clone's name
    doc = json.loads(snap.read_text())
    doc.pop("label", None)
    return {
        "snapshot": doc,
        "lint": sorted((f["rule"], f["object"]) for f in lint["findings"]),
        "probe": sorted((f["rule"], f["object"]) for f in probe["findings"]),
        "matrix": (matrix["ok"], sorted((c["id"], c["status"]) for c in matrix["cells"])),
        "recorded": recorded,
    }


def test_commands_agree_on_local_scratch_and_live_and_leave_no_trace(
    scratch: PostgresServer, live: PostgresServer, notes_project: Path, tmp_path: Path
) -> None:
    scratch_dbs, live_before = databases(scratch), fingerprint(live)
    local = surface(notes_project, tmp_path)
    on_scratch = surface(notes_project, tmp_path, "--backend", "dsn", "--dsn", scratch.url())
    on_live = surface(notes_project, tmp_path, "--backend", "dsn", "--dsn", live.url())
    assert local["matrix"][0] is True  # type: ignore[index]
    assert local["snapshot"]["tables"]["public.notes"]["policies"]  # type: ignore[index]
    assert on_scratch == local
    assert on_live == local
    assert databases(scratch) == scratch_dbs
    assert fingerprint(live) == live_before


def test_environment_chooses_the_backend_for_commands(
    live: PostgresServer, notes_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLSGUARD_BACKEND", "dsn")
    monkeypatch.setenv("RLSGUARD_DSN", live.url())
    with live.connect(autocommit=True) as conn:  # only the live database has this marker
        conn.execute(
            'create policy "the live one" on public.notes for select to anon using (false)'
        )
    try:
        result = runner.invoke(app, ["snapshot", "--supabase-dir", str(notes_project)])
        assert result.exit_code == 0, result.output
        assert "the live one" in result.stdout
        # The command line wins over the environment.
        result = runner.invoke(
            app, ["snapshot", "--supabase-dir", str(notes_project), "--backend", "local"]
        )
        assert result.exit_code == 0, result.output
        assert "the live one" not in result.stdout
    finally:
        with live.connect(autocommit=True) as conn:
            conn.execute('drop policy "the live one" on public.notes')


def test_doctor_tells_a_live_database_from_a_scratch_server(
    scratch: PostgresServer, live: PostgresServer, notes_project: Path
) -> None:
    found = {}
    for name, server in (("scratch", scratch), ("live", live)):
        result = runner.invoke(
            app,
            ["doctor", "--supabase-dir", str(notes_project), "--json",
             "--backend", "dsn", "--dsn", server.url()],
        )  # fmt: skip
        checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
        found[name] = checks["backend"]
    target = f"127.0.0.1:{live.port}/postgres"
    assert "is a live Supabase database" in found["live"]["summary"]
    assert f"--allow-destructive {target}" in found["live"]["details"][1]
    assert "is a scratch server" in found["scratch"]["summary"]
    result = runner.invoke(
        app,
        ["doctor", "--supabase-dir", str(notes_project), "--json", "--backend", "dsn",
         "--dsn", live.url(), "--allow-destructive", target],
    )  # fmt: skip
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert f"destructive actions allowed on {target} only" in checks["backend"]["details"]


def test_a_dsn_backend_without_a_url_says_what_to_do(notes_project: Path) -> None:
    result = runner.invoke(app, ["lint", "--supabase-dir", str(notes_project), "--backend", "dsn"])
    assert result.exit_code == 2
    assert "--rlsguard-dsn" in result.output


# -- docker -------------------------------------------------------------------------------

DOCKER, DOCKER_REASON = docker_engine_available()


@pytest.mark.skipif(not DOCKER, reason=f"no Docker engine: {DOCKER_REASON}")
@pytest.mark.slow
def test_docker_backend_runs_every_command(notes_project: Path, tmp_path: Path) -> None:
    local = surface(notes_project, tmp_path)
    assert surface(notes_project, tmp_path, "--backend", "docker") == local


def test_docker_backend_without_an_engine_refuses_with_the_reason(
    notes_project: Path, user_project: Path, template_cache_dir: Path
) -> None:
    if DOCKER:
        pytest.skip("a Docker engine answers here: the refusal cannot be shown")
    options = EngineOptions(supabase_dir=notes_project, backend="docker")
    with pytest.raises(BackendUnavailable, match="Docker engine"):
        Engine(load_config(supabase_dir=notes_project), options).open()
    result = runner.invoke(
        app, ["lint", "--supabase-dir", str(notes_project), "--backend", "docker"]
    )
    assert result.exit_code == 2
    assert "needs a Docker engine" in result.output
    result = pytest_in(user_project, "-m", "rls", "--rlsguard-backend", "docker",
                       cache=template_cache_dir)  # fmt: skip
    assert result.returncode == 3  # the session ends once, with the reason
    assert "needs a Docker engine" in result.stdout + result.stderr


@pytest.mark.slow
def test_runs_starting_at_once_on_a_fresh_scratch_server_take_turns(
    rlsguard_stack: Stack, notes_project: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fresh = rlsguard_stack.postgres(rlsguard_stack.unique_name("fresh"))
    try:
        before = databases(fresh)
        engines = [engine_for(notes_project, fresh.url()) for _ in range(2)]
        with ThreadPoolExecutor(2) as pool:
            opened = list(pool.map(lambda e: e.open(), engines))
        try:
            assert [e.mode for e in opened] == ["scratch", "scratch"]
        finally:
            for engine in opened:
                engine.close()
        assert databases(fresh) == before
    finally:
        rlsguard_stack.discard(fresh.name)


# -- pytest -m rls --------------------------------------------------------------------------

USER_TESTS = """
import os

import pytest


@pytest.mark.rls
def test_the_opt_in_reaches_the_engine(rlsguard_engine):
    expected = os.environ.get("EXPECT_OPT_IN")
    assert rlsguard_engine.server.opted_in is bool(expected)
    assert rlsguard_engine.config.allow_destructive == expected


@pytest.mark.rls
def test_alice_reads(rlsguard_db):
    with rlsguard_db.as_persona("alice") as s:
        assert s.scalar("select count(*) from notes") == 2


@pytest.mark.rls
def test_writes_are_rolled_back(rlsguard_db):
    rlsguard_db.execute("delete from public.notes")
    assert rlsguard_db.scalar("select count(*) from public.notes") == 0


@pytest.mark.rls
def test_commits_in_a_clone(rlsguard_clone):
    rlsguard_clone.execute("create table public.mine ()")
"""


@pytest.fixture(scope="module")
def user_project(
    tmp_path_factory: pytest.TempPathFactory, notes_project: Path, live: PostgresServer
) -> Path:
    """The notes project with a matrix, user tests and the approved snapshot (drift item)."""
    import shutil

    root = tmp_path_factory.mktemp("user") / "repo"
    shutil.copytree(notes_project.parent, root)
    (root / "fixtures").mkdir()
    shutil.copy(MATRIX, root / "fixtures" / "rls_matrix.yaml")
    (root / "test_access.py").write_text(USER_TESTS)
    result = runner.invoke(
        app,
        ["snapshot", "--supabase-dir", str(root / "supabase"), "--backend", "local",
         "-o", str(root / "fixtures" / "policies.snapshot.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root


def pytest_in(cwd: Path, *args: str, cache: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(cache), "COLUMNS": "200", **extra}
    fast = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")
    return subprocess.run(
        [sys.executable, "-m", "pytest", *fast, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_pytest_rls_on_a_scratch_server(
    user_project: Path, scratch: PostgresServer, template_cache_dir: Path
) -> None:
    before = databases(scratch)
    args = ("-m", "rls", "-rs", "-v", "--rlsguard-backend", "dsn", "--rlsguard-dsn", scratch.url())
    result = pytest_in(user_project, *args, cache=template_cache_dir)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "fixtures/rls_matrix.yaml: 19 cell(s) checked, 0 failed" in out
    assert "policies.snapshot.json::test_policy_snapshot PASSED" in out
    assert "test_commits_in_a_clone PASSED" in out
    assert "24 passed" in out
    assert databases(scratch) == before


def test_pytest_rls_on_a_live_database_reads_only(
    user_project: Path, live: PostgresServer, template_cache_dir: Path
) -> None:
    before = fingerprint(live)
    target = f"127.0.0.1:{live.port}/postgres"
    args = ("-m", "rls", "-rs", "-v", "--rlsguard-backend", "dsn", "--rlsguard-dsn", live.url(),
            "--rlsguard-allow-destructive", target)  # fmt: skip
    result = pytest_in(user_project, *args, cache=template_cache_dir, EXPECT_OPT_IN=target)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "fixtures/rls_matrix.yaml: 19 cell(s) checked, 0 failed" in out
    assert "policies.snapshot.json::test_policy_snapshot PASSED" in out
    assert "test_writes_are_rolled_back PASSED" in out
    assert "rlsguard_clone needs a database of the test's own" in out  # the skip's reason
    assert "23 passed, 1 skipped" in out
    assert fingerprint(live) == before


@pytest.mark.slow
def test_gate_and_diff_build_both_versions_on_a_scratch_server(
    scratch: PostgresServer, notes_project: Path, tmp_path: Path
) -> None:
    import shutil

    base = tmp_path / "base" / "supabase"
    shutil.copytree(notes_project, base)
    (base / "migrations" / "20250102000000_open.sql").write_text(
        'create policy "everyone reads" on public.notes for select to anon using (true);\n'
        "grant select on public.notes to anon;\n"
    )
    before = databases(scratch)
    where = ["--supabase-dir", str(notes_project), "--backend", "dsn", "--dsn", scratch.url()]
    result = runner.invoke(app, ["diff", "--base", str(base), *where, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "everyone reads" in result.stdout  # head drops the policy base had
    result = runner.invoke(app, ["gate", "--base", str(base), *where])
    assert "✓ build base and head" in result.stderr, result.output
    assert result.exit_code in (0, 1), result.output
    assert databases(scratch) == before


@pytest.mark.slow
@pytest.mark.parametrize("target", ["scratch", "live"])
def test_pytest_rls_under_xdist(
    user_project: Path,
    scratch: PostgresServer,
    live: PostgresServer,
    template_cache_dir: Path,
    target: str,
) -> None:
    """Workers attach to the controller's template (scratch: and make their own clones;
    live: work in the live database, every test rolled back)."""
    server = scratch if target == "scratch" else live
    before, live_before = databases(server), fingerprint(live)
    args = ("-n", "2", "-m", "rls", "-rs", "--rlsguard-backend", "dsn",
            "--rlsguard-dsn", server.url())  # fmt: skip
    result = pytest_in(user_project, *args, cache=template_cache_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = "24 passed" if target == "scratch" else "23 passed, 1 skipped"
    assert expected in result.stdout
    assert "19 cell(s) checked, 0 failed" in result.stdout
    assert databases(server) == before
    assert fingerprint(live) == live_before


def test_a_scratch_server_needs_a_superuser(scratch: PostgresServer, notes_project: Path) -> None:
    with scratch.connect(autocommit=True) as conn:
        conn.execute("create role rlsguard_ci login createdb password 'ci'")
    try:
        dsn = f"postgresql://rlsguard_ci:ci@127.0.0.1:{scratch.port}/postgres"
        before = databases(scratch)
        with pytest.raises(RlsguardError, match="needs a superuser connection"):
            engine_for(notes_project, dsn).open()
        assert databases(scratch) == before  # the database it had made for the run is gone
    finally:
        with scratch.connect(autocommit=True) as conn:
            conn.execute("drop role rlsguard_ci")


@pytest.mark.slow
def test_up_on_a_scratch_server_serves_its_database_then_drops_it(
    scratch: PostgresServer, notes_project: Path, template_cache_dir: Path
) -> None:
    import shlex
    import signal

    before = databases(scratch)
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(template_cache_dir), "COLUMNS": "200"}
    args = ["up", "--supabase-dir", str(notes_project), "--backend", "dsn", "--dsn", scratch.url(),
            "--no-auth"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlsguard.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("psql "):
                break
        assert lines, proc.stderr.read() if proc.stderr else ""
        assert "dsn backend, scratch" in "".join(lines)
        conninfo = shlex.split(lines[-1])[1]  # as a shell would read it
        assert scratch.password not in conninfo  # printed without its password
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
        assert str(params["dbname"]).startswith("rlsguard_")
        with psycopg.connect(conninfo.replace("***", scratch.password)) as conn:
            assert conn.execute("select count(*) from public.notes").fetchone() == (3,)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert databases(scratch) == before
