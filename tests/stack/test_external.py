"""The dsn backend, against a real cluster treated as somebody else's server."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from rlsguard.errors import BackendUnavailable, DestructiveActionRefused, ServerError
from rlsguard.stack import PostgresServer, Stack, State
from rlsguard.stack.external import ExternalPostgres, target_name
from rlsguard.stack.net import free_port
from tests.stack.conftest import eventually


@pytest.fixture(scope="module")
def foreign(rlsguard_stack: Stack) -> PostgresServer:
    """'Staging': a cluster we reach only through its URL in these tests."""
    return rlsguard_stack.postgres(rlsguard_stack.unique_name("foreign"))


@pytest.fixture
def guest(foreign: PostgresServer) -> Iterator[ExternalPostgres]:
    server = ExternalPostgres(foreign.url(), name="staging").start(timeout=10)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def opted_in(foreign: PostgresServer) -> Iterator[ExternalPostgres]:
    target = f"127.0.0.1:{foreign.port}/postgres"
    server = ExternalPostgres(foreign.url(), allow_destructive=target).start(timeout=10)
    try:
        yield server
    finally:
        server.stop()


def databases(foreign: PostgresServer) -> set[str]:
    with foreign.connect() as conn:
        return {row[0] for row in conn.execute("select datname from pg_database")}


def test_start_checks_that_it_answers(guest: ExternalPostgres, foreign: PostgresServer) -> None:
    assert guest.state is State.RUNNING
    assert guest.owned is False
    assert guest.pid is None
    assert guest.major == foreign.binaries.major
    assert guest.target == f"127.0.0.1:{foreign.port}/postgres"
    with guest.connect() as conn:
        assert conn.execute("select current_user").fetchone() == (foreign.superuser,)


def test_conninfo_overrides_database_and_user(guest: ExternalPostgres) -> None:
    info = psycopg.conninfo.conninfo_to_dict(guest.conninfo("other", "anon"))
    assert info["dbname"] == "other"
    assert info["user"] == "anon"
    assert info["host"] == "127.0.0.1"


def test_wait_ready_gives_up_at_the_deadline() -> None:
    port = free_port()
    server = ExternalPostgres(f"postgresql://someone:secret@127.0.0.1:{port}/postgres")
    with pytest.raises(ServerError, match=rf"127\.0\.0\.1:{port}/postgres did not answer within"):
        server.wait_ready(timeout=0.2)
    assert server.state is State.STOPPED


def test_bad_password_fails_at_once_and_is_not_printed(foreign: PostgresServer) -> None:
    server = ExternalPostgres(
        f"postgresql://{foreign.superuser}:hunter2-wrong@127.0.0.1:{foreign.port}/postgres"
    )
    with pytest.raises(ServerError, match="refused the connection") as info:
        server.wait_ready(timeout=60)  # would take a minute if it retried
    assert "hunter2-wrong" not in str(info.value)
    assert "hunter2-wrong" not in repr(server)


def test_invalid_dsn_is_reported_without_its_password() -> None:
    with pytest.raises(BackendUnavailable, match="not a libpq connection string") as info:
        ExternalPostgres("host=db password=s3cr3t garbage")
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize("verb", ["kill", "freeze", "thaw", "restart"])
def test_process_verbs_are_refused_without_opt_in(
    guest: ExternalPostgres, foreign: PostgresServer, verb: str
) -> None:
    target = f"127.0.0.1:{foreign.port}/postgres"
    with pytest.raises(DestructiveActionRefused) as info:
        getattr(guest, verb)()
    message = str(info.value)
    assert target in message
    assert f'allow_destructive = "{target}"' in message
    assert f"--rlsguard-allow-destructive {target}" in message
    assert "terminate_backends()" in message  # what opting in would allow
    assert foreign.state is State.RUNNING
    with guest.connect() as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_terminating_sessions_needs_opt_in(
    guest: ExternalPostgres, foreign: PostgresServer
) -> None:
    with foreign.connect() as bystander:
        with pytest.raises(DestructiveActionRefused, match="allow_destructive"):
            guest.terminate_backends()
        assert bystander.execute("select 1").fetchone() == (1,)


def test_opt_in_must_name_the_exact_server(foreign: PostgresServer) -> None:
    near_misses = [
        f"localhost:{foreign.port}/postgres",
        f"127.0.0.1:{foreign.port}",
        f"127.0.0.1:{foreign.port}/template1",
    ]
    for name in near_misses:
        server = ExternalPostgres(foreign.url(), allow_destructive=name)
        assert not server.opted_in
        with pytest.raises(DestructiveActionRefused, match=f"names '{name}', not this server"):
            server.terminate_backends()


def test_opt_in_terminates_only_rlsguards_sessions_of_the_named_database(
    opted_in: ExternalPostgres, foreign: PostgresServer
) -> None:
    # Another part of the same run (e.g. the engine) opened a session in the target database.
    same_run = ExternalPostgres(foreign.url(), run_id=opted_in.run_id)
    ours = same_run.connect(autocommit=True)
    bystander = psycopg.connect(foreign.tcp_conninfo(), autocommit=True)  # somebody else's app
    elsewhere = psycopg.connect(foreign.tcp_conninfo("template1"), autocommit=True)
    own = opted_in.connect(autocommit=True)
    try:
        assert opted_in.terminate_backends(state="idle") == 1
        with pytest.raises(psycopg.OperationalError):
            ours.execute("select 1")
        assert bystander.execute("select 1").fetchone() == (1,)
        assert elsewhere.execute("select 1").fetchone() == (1,)
        assert own.execute("select 1").fetchone() == (1,)  # the injector's own are spared
    finally:
        for conn in (ours, bystander, elsewhere, own):
            conn.close()


def test_opt_in_reaches_every_session_of_that_database_and_no_other(
    opted_in: ExternalPostgres, foreign: PostgresServer
) -> None:
    bystander = psycopg.connect(foreign.tcp_conninfo(), autocommit=True)
    elsewhere = psycopg.connect(foreign.tcp_conninfo("template1"), autocommit=True)
    try:
        assert opted_in.terminate_backends(state="idle", only_rlsguard=False) >= 1
        with pytest.raises(psycopg.OperationalError):
            bystander.execute("select 1")
        assert elsewhere.execute("select 1").fetchone() == (1,)  # another database: untouched
        with pytest.raises(DestructiveActionRefused, match="can only name the DSN's own"):
            opted_in.terminate_backends(dbname="template1")
    finally:
        bystander.close()
        elsewhere.close()


def test_databases_it_creates_carry_the_runs_marker(
    guest: ExternalPostgres, foreign: PostgresServer
) -> None:
    guest.create_database("rlsguard_ext_m", template="template0")
    try:
        with foreign.connect(autocommit=True) as conn:
            (comment,) = conn.execute(
                "select shobj_description(oid, 'pg_database') from pg_database "
                "where datname = 'rlsguard_ext_m'"
            ).fetchone()
            assert comment == f"rlsguard run {guest.run_id} staging"  # run and server
            # Somebody replaced it under the same name: no marker, so it is not dropped.
            conn.execute("comment on database rlsguard_ext_m is 'theirs now'")
        with pytest.raises(DestructiveActionRefused, match="marker"):
            guest.drop_database("rlsguard_ext_m")
        assert "rlsguard_ext_m" in databases(foreign)
    finally:
        foreign.drop_database("rlsguard_ext_m")


@pytest.mark.parametrize("verb", ["kill", "freeze", "thaw", "restart"])
def test_opted_in_still_cannot_do_what_sql_cannot(
    opted_in: ExternalPostgres, foreign: PostgresServer, verb: str
) -> None:
    with pytest.raises(DestructiveActionRefused) as info:
        getattr(opted_in, verb)()
    message = str(info.value)
    assert message.startswith(f"cannot {'kill -9' if verb == 'kill' else verb} 127.0.0.1:")
    assert "host" in message
    assert "terminate_backends()" in message
    assert foreign.state is State.RUNNING


def test_never_drops_a_database_it_did_not_create(
    guest: ExternalPostgres, opted_in: ExternalPostgres, foreign: PostgresServer
) -> None:
    foreign.create_database("theirs")
    try:
        for server in (guest, opted_in):
            with pytest.raises(DestructiveActionRefused, match="rlsguard did not create it"):
                server.drop_database("theirs")
        assert "theirs" in databases(foreign)
    finally:
        foreign.drop_database("theirs")


def test_drops_what_it_created(guest: ExternalPostgres, foreign: PostgresServer) -> None:
    guest.create_database("rlsguard_ext_a", template="template0")
    assert guest.created_databases == ("rlsguard_ext_a",)
    assert "rlsguard_ext_a" in databases(foreign)
    held = guest.connect("rlsguard_ext_a")  # a session does not block the drop
    guest.drop_database("rlsguard_ext_a")
    held.close()
    assert "rlsguard_ext_a" not in databases(foreign)
    assert guest.created_databases == ()
    with pytest.raises(DestructiveActionRefused):
        guest.drop_database("rlsguard_ext_a")  # no longer ours


def test_a_creation_by_another_instance_is_not_ours(
    guest: ExternalPostgres, foreign: PostgresServer
) -> None:
    other = ExternalPostgres(foreign.url())
    other.create_database("rlsguard_ext_b")
    try:
        with pytest.raises(DestructiveActionRefused):
            guest.drop_database("rlsguard_ext_b")
    finally:
        other.stop()
    assert "rlsguard_ext_b" not in databases(foreign)


def test_terminates_sessions_in_its_own_database_without_opt_in(
    guest: ExternalPostgres, foreign: PostgresServer
) -> None:
    guest.create_database("rlsguard_ext_c")
    victim = psycopg.connect(foreign.tcp_conninfo("rlsguard_ext_c"), autocommit=True)
    bystander = psycopg.connect(foreign.tcp_conninfo(), autocommit=True)
    try:
        assert guest.terminate_backends(dbname="rlsguard_ext_c") == 1
        with pytest.raises(psycopg.OperationalError):
            victim.execute("select 1")
        assert bystander.execute("select 1").fetchone() == (1,)
    finally:
        victim.close()
        bystander.close()


def test_stop_closes_its_connections_and_drops_its_databases(
    foreign: PostgresServer,
) -> None:
    server = ExternalPostgres(foreign.url()).start(timeout=10)
    foreign.create_database("rlsguard_ext_keep")
    try:
        server.create_database("rlsguard_ext_d")
        conn = server.connect()
        server.stop()
        assert conn.closed
        assert server.state is State.STOPPED
        found = databases(foreign)
        assert "rlsguard_ext_d" not in found
        assert "rlsguard_ext_keep" in found
        assert foreign.state is State.RUNNING
    finally:
        foreign.drop_database("rlsguard_ext_keep")


def test_stack_stops_an_adopted_server(foreign: PostgresServer) -> None:
    with Stack() as stack:
        server = ExternalPostgres(foreign.url(), name="adopted")
        stack.add(server)  # type: ignore[type-var]
        server.create_database("rlsguard_ext_e")
    eventually(lambda: "rlsguard_ext_e" not in databases(foreign))
    assert foreign.state is State.RUNNING


def test_target_name_fills_in_libpq_defaults() -> None:
    defaults = {"port": "5432", "user": "alice"}
    assert target_name({"host": "db.internal"}, defaults) == "db.internal:5432/alice"
    assert target_name({"host": "h", "port": "6543", "dbname": "app"}, {}) == "h:6543/app"
    assert target_name({}, {"port": "5432", "user": "bob"}) == "localhost:5432/bob"
