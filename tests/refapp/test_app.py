"""The reference app on a private cluster: what its users see when the database misbehaves.

One cluster and one app for the module (real uvicorn, real Postgres, real sockets)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from rlsguard.authservice import app as auth_app
from rlsguard.config import load_config
from rlsguard.gameday.target import local_cluster
from rlsguard.refapp.server import RefApp, start_refapp
from rlsguard.refapp.users import Call, SyntheticUsers

ROOT = Path(__file__).parents[2]
DB = "refapp_test"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Any, RefApp, dict[str, str]]]:
    config = load_config(ROOT)
    with local_cluster(config) as engine:
        engine.clone(DB)
        secret = engine.signer.secret
        auth_env = {
            auth_app.ENV_DSN: engine.conninfo(DB, user="supabase_auth_admin"),
            auth_app.ENV_SECRET: secret,
            auth_app.ENV_ISSUER: "http://127.0.0.1/auth/v1",
        }
        app = start_refapp(
            engine.stack,
            dsn=engine.conninfo(DB, user="authenticator"),
            jwt_secret=secret,
            auth_env=auth_env,
            pool_max=2,
            acquire_timeout_s=0.3,
            lock_timeout_ms=200,
        )
        with engine.connect(DB, autocommit=True) as conn:
            tokens = {
                p: str(engine.personas.resolve(conn, p).token) for p in ("teacher", "student")
            }
        yield engine, app, tokens


def get(app: RefApp, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(app.url + path, headers=headers, timeout=10)


def log_lines(app: RefApp) -> list[dict[str, Any]]:
    return [json.loads(x) for x in app.log_file.read_text().splitlines()]


def test_reads_run_as_the_signed_in_user(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    _, app, tokens = stack
    teacher = get(app, "/rest/v1/classes", tokens["teacher"])
    student = get(app, "/rest/v1/classes", tokens["student"])
    assert teacher.status_code == student.status_code == 200
    # RLS applies: each sees their own classes, not the same set
    assert {r["id"] for r in teacher.json()} != {r["id"] for r in student.json()}
    assert get(app, "/rest/v1/classes", "not-a-jwt").status_code == 401
    assert get(app, "/rest/v1/secrets", tokens["teacher"]).status_code == 404
    last = log_lines(app)[-3]
    assert last["event"] == "read"
    assert last["status"] == 200
    assert last["outcome"] == "ok"
    assert "latency_ms" in last
    assert "Bearer" not in json.dumps(log_lines(app))


def test_reads_take_postgrest_equality_filters(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    _, app, tokens = stack
    every = get(app, "/rest/v1/classes", tokens["teacher"]).json()
    one = every[0]["id"]
    filtered = get(app, f"/rest/v1/classes?id=eq.{one}", tokens["teacher"])
    assert filtered.status_code == 200
    assert [r["id"] for r in filtered.json()] == [one]
    assert len(every) > 1
    bad = get(app, f"/rest/v1/classes?id=gt.{one}", tokens["teacher"])
    assert bad.status_code == 400
    assert "column=eq.value" in bad.json()["error"]


def test_a_write_denied_by_rls_is_a_403(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    engine, app, tokens = stack
    with engine.connect(DB, autocommit=True) as conn:
        before = conn.execute("select count(*) from public.classes").fetchone()
    response = httpx.post(
        app.url + "/rest/v1/classes",
        params={"row": json.dumps({"name": "Hacked", "subject": "x"})},
        headers={"Authorization": f"Bearer {tokens['student']}", "Prefer": "tx=rollback"},
        timeout=10,
    )
    assert response.status_code == 403, response.text
    assert response.json() == {"code": "42501", "error": "denied"}
    with engine.connect(DB, autocommit=True) as conn:
        assert conn.execute("select count(*) from public.classes").fetchone() == before


def test_the_auth_service_is_mounted(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    engine, app, _ = stack
    anon = engine.signer.anon_key
    response = httpx.get(app.url + "/auth/v1/health", headers={"apikey": anon}, timeout=10)
    assert response.status_code == 200, response.text
    # the gateway check is the auth service's own: no key, GoTrue's 401
    assert get(app, "/auth/v1/health").status_code == 401


def test_a_leaked_pool_gives_503_and_health_says_pool_not_database(
    stack: tuple[Any, RefApp, dict[str, str]],
) -> None:
    _, app, tokens = stack
    assert app.admin("/_chaos/leak", n=2)["leaked"] == 2
    try:
        response = get(app, "/rest/v1/classes", tokens["teacher"])
        assert response.status_code == 503
        assert response.json()["error"] == "pool_timeout"
        status, body = app.health()
        assert status == 503
        assert body["database"]["ok"] is True
        assert body["pool"]["saturation"] == 1.0
    finally:
        app.admin("/_admin/pool/reset")
    assert get(app, "/rest/v1/classes", tokens["teacher"]).status_code == 200
    assert app.health()[0] == 200


def test_admin_routes_need_the_token(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    _, app, _ = stack
    assert httpx.post(app.url + "/_chaos/leak").status_code == 403
    assert (
        httpx.post(app.url + "/_admin/pool/reset", headers={"x-rlsguard-admin": "no"}).status_code
        == 403
    )


def test_a_lock_wait_gives_504_with_the_sqlstate(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    engine, app, tokens = stack
    with engine.connect(DB, autocommit=False) as holder:
        holder.execute("LOCK TABLE public.classes IN ACCESS EXCLUSIVE MODE")
        response = get(app, "/rest/v1/classes", tokens["teacher"])
        holder.rollback()
    assert response.status_code == 504
    assert response.json() == {"code": "55P03", "error": "lock_timeout"}
    line = [x for x in log_lines(app) if x.get("sqlstate") == "55P03"][-1]
    assert line["error_class"] == "lock_timeout"
    assert line["outcome"] == "error"


def test_synthetic_users_are_bounded_by_count(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    _, app, tokens = stack
    users = SyntheticUsers(
        app.url, dict(tokens), [Call("/rest/v1/classes")], rate_hz=50, max_requests=3
    )
    users.start()
    assert users.wait_for_samples(6, timeout=20)
    users.stop()
    assert len(users.samples) == 6
    assert {s.persona for s in users.samples} == {"teacher", "student"}
    window = users.window(users.samples[0].t - 1, users.samples[-1].t)
    assert window.requests == 6
    assert window.errors == 0
    assert window.p95_ms is not None


def test_the_app_logs_in_as_a_non_superuser(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    engine, app, tokens = stack
    assert get(app, "/rest/v1/classes", tokens["teacher"]).status_code == 200
    with psycopg.connect(engine.conninfo(DB), autocommit=True) as conn:
        rows = conn.execute(
            "select distinct usename from pg_stat_activity "
            "where application_name = 'rlsguard-refapp'"
        ).fetchall()
    assert rows == [("authenticator",)]


def test_health_gives_up_on_a_database_that_never_answers(
    stack: tuple[Any, RefApp, dict[str, str]],
) -> None:
    """A hung pooler accepts the connection and says nothing: /health answers 503 at its
    own deadline, not at libpq's 2-second minimum connect timeout (or never)."""
    engine, _, _ = stack
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    hung = start_refapp(
        engine.stack,
        dsn=f"host=127.0.0.1 port={port} dbname=x user=authenticator",
        jwt_secret=engine.signer.secret,
        pool_min=0,
        health_timeout_s=0.3,
    )
    try:
        status, body = hung.health(timeout=10)
        assert status == 503
        assert body["database"] == {
            "ok": False,
            "sqlstate": None,
            "error": "no answer within 0.3 s",
            "latency_ms": body["database"]["latency_ms"],
        }
    finally:
        engine.stack.discard(hung.server.name)
        silent.close()


def test_synthetic_users_write_and_roll_back(stack: tuple[Any, RefApp, dict[str, str]]) -> None:
    """A teacher's insert into their own class, sent as PostgREST's tx=rollback: answered
    with the row, then rolled back - the seeded data stays as it was."""
    engine, app, tokens = stack
    with engine.connect(DB, autocommit=True) as conn:
        (class_id,) = conn.execute(
            "select c.id::text from public.classes c join public.users u on u.id = c.teacher_id "
            "where u.email = 'teacher@school.test' order by c.id limit 1"
        ).fetchone()
        before = conn.execute("select count(*) from public.assignments").fetchone()
    row = json.dumps({"class_id": class_id, "title": "synthetic write"})
    write = Call("/rest/v1/assignments", "POST", {"row": row}, {"Prefer": "tx=rollback"})
    users = SyntheticUsers(
        app.url, {"teacher": tokens["teacher"]}, [write], rate_hz=50, max_requests=2
    )
    with users:
        assert users.wait_for_samples(2, 10)
    assert [s.status for s in users.samples] == [200, 200]
    with engine.connect(DB, autocommit=True) as conn:
        assert conn.execute("select count(*) from public.assignments").fetchone() == before
