"""The connections a run of test files uses, on a database the caller made for it.

The caller (the pytest plugin, ``rlsguard test-db``) clones the project's template and hands
in two connection strings: a superuser's, to install pgTAP once, and ``postgres``', which
runs the files as ``supabase test db`` does (``postgres`` is not a superuser on Supabase, and
its role settings, e.g. the search_path, apply from the login on).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg

from rlsguard.pgtap.provider import DEFAULT_SCHEMA, Implementation, Provider, install
from rlsguard.pgtap.runner import FileResult, run_file
from rlsguard.supabase.extensions import StandIns


class TestDatabase:
    """pgTAP installed in one database, and a connection that runs test files in it."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        admin_conninfo: str,
        user_conninfo: str,
        *,
        implementation: Implementation = "auto",
        schema: str = DEFAULT_SCHEMA,
        stand_ins: StandIns | None = None,
    ) -> None:
        self.stand_ins = stand_ins or StandIns.none()
        with psycopg.connect(admin_conninfo, autocommit=True) as admin:
            self.provider: Provider = install(admin, implementation, schema)
        self.conn: psycopg.Connection[Any] = psycopg.connect(user_conninfo, autocommit=True)

    def run(self, path: Path) -> FileResult:
        return run_file(self.conn, path, self.provider, self.stand_ins)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
