"""Shared servers and helpers for the Supabase layer's tests.

One cluster for the whole session, bootstrapped once; two template databases (one per grant
mode) that tests clone in a few milliseconds when they need to run DDL or commit.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from rlsguard.stack import PostgresServer, Stack
from rlsguard.supabase import BootstrapReport, bootstrap, clone_database

PROJECTS = Path(__file__).parent / "projects"
TEMPLATES = {"expose": "tpl_expose", "private": "tpl_private"}
_names = itertools.count(1)


@dataclass
class SupabaseCluster:
    """A bootstrapped cluster and the databases tests cloned from its templates."""

    server: PostgresServer
    report: BootstrapReport
    reports: dict[str, BootstrapReport] = field(default_factory=dict)

    def fresh(self, mode: str = "expose") -> str:
        """A new database cloned from the template of ``mode`` ("expose" or "private")."""
        name = f"t{next(_names)}_{mode}"
        clone_database(self.server, name, TEMPLATES[mode])
        return name

    def connect(self, dbname: str = "postgres", user: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(self.server.conninfo(dbname, user=user), autocommit=True)


def build_cluster(
    stack: Stack, name: str, *, stand_ins: str | None = None, **postgres_kw: Any
) -> SupabaseCluster:
    """A started, bootstrapped cluster with one template database per grant mode."""
    server = stack.postgres(stack.unique_name(name), **postgres_kw)
    report = bootstrap(server, stand_ins=stand_ins)
    cluster = SupabaseCluster(server, report)
    for mode, template in TEMPLATES.items():
        server.create_database(template, template="postgres")
        cluster.reports[mode] = bootstrap(
            server, dbname=template, auto_expose=(mode == "expose"), stand_ins=stand_ins
        )
    return cluster


@pytest.fixture(scope="session")
def sb(rlsguard_stack: Stack) -> Iterator[SupabaseCluster]:
    """The session's bootstrapped cluster (the default backend: Debian PostgreSQL 15 here)."""
    cluster = build_cluster(rlsguard_stack, "supabase")
    try:
        yield cluster
    finally:
        rlsguard_stack.discard(cluster.server.name)


@pytest.fixture
def fresh_db(sb: SupabaseCluster) -> Iterator[Any]:
    """A factory of cloned databases, dropped when the test ends."""
    made: list[str] = []

    def make(mode: str = "expose") -> str:
        name = sb.fresh(mode)
        made.append(name)
        return name

    yield make
    for name in made:
        sb.server.drop_database(name)


@contextmanager
def acting_as(
    conn: psycopg.Connection[Any],
    role: str,
    claims: dict[str, Any] | None = None,
    **settings: str,
) -> Iterator[psycopg.Connection[Any]]:
    """Inside a rolled-back transaction: ``SET LOCAL ROLE`` and the request's JWT claims."""
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        if claims is not None:
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        for name, value in settings.items():
            conn.execute("select set_config(%s, %s, true)", (name.replace("__", "."), value))
        yield conn


def sqlstate_of(conn: psycopg.Connection[Any], query: str, params: Any = None) -> str | None:
    """Run ``query`` in a savepoint; the SQLSTATE it failed with, or None when it succeeded."""
    try:
        with conn.transaction():
            conn.execute(query, params)
    except psycopg.Error as exc:
        return exc.diag.sqlstate
    return None
