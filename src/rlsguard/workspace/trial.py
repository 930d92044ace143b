"""Apply migrations as the Supabase CLI would, read the result, and leave no trace.

A rollback is tried unit by unit and then verified; a gate asks "what would this migration
do?". Doing that in a cloned database is not enough: roles, role memberships and role
attributes (``GRANT service_role TO authenticated``, ``ALTER ROLE ... BYPASSRLS``) belong to
the whole cluster and would outlive the clone. :class:`Trial` therefore runs the files with
:class:`MigrationSession` (the CLI's exact semantics: postgres, supautils elevation, one batch
per file) inside one explicit transaction that it rolls back at the end; each attempt gets a
savepoint, so a failing file is undone alone. PostgreSQL's DDL, grants and role changes are
all transactional, so the database and the cluster end exactly as they began.

Not for files that cannot run inside a transaction block (``CREATE INDEX CONCURRENTLY``,
``VACUUM``) or that ``COMMIT`` themselves; rollbacks and policy changes never do.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rlsguard.errors import RlsguardError
from rlsguard.harness.engine import Engine
from rlsguard.policy.catalog import Catalog, read_catalog
from rlsguard.policy.snapshot import Snapshot
from rlsguard.supabase.errors import MigrationError
from rlsguard.supabase.migrations import MigrationSession
from rlsguard.supabase.project import Migration
from rlsguard.transactions import undone
from rlsguard.workspace.build import connection_target

TRIAL_VERSION = "29991231235959"  # sorts after any real migration; never committed
_counter = itertools.count(1)


def as_migration(sql: str, version: str = TRIAL_VERSION, name: str = "trial") -> Migration:
    """SQL text as a migration file (the path is for messages only)."""
    filename = f"{version}_{name}.sql"
    return Migration(Path(filename), f"supabase/migrations/{filename}", sql, version, name)


class Trial:
    """An open, rolled-back-at-the-end migration session on one database."""

    def __init__(self, session: MigrationSession, exposed_schemas: Iterable[str]) -> None:
        self.session = session
        self.exposed = tuple(exposed_schemas)
        self._conn = session.conn

    def _check(self) -> None:
        if self.session.conn is not self._conn:  # MigrationSession reconnected: work is gone
            raise RlsguardError("the trial lost its connection; its changes were discarded")

    def apply(self, migration: Migration | str) -> None:
        """Run one file; a :class:`MigrationError` leaves the trial unusable (use attempt)."""
        if isinstance(migration, str):
            migration = as_migration(migration, f"{TRIAL_VERSION}_{next(_counter)}")
        self.session.run(migration, "migration")
        self._check()

    def attempt(self, migration: Migration | str) -> MigrationError | None:
        """Run one file in a savepoint: kept when it works, undone alone when it fails."""
        savepoint = f"rlsguard_attempt_{next(_counter)}"
        self._conn.execute(f"SAVEPOINT {savepoint}")
        try:
            self.apply(migration)
        except MigrationError as exc:
            self._check()
            self._conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
            return exc
        self._conn.execute(f"RELEASE SAVEPOINT {savepoint}")
        return None

    def catalog(self) -> Catalog:
        return read_catalog(self._conn, self.exposed)

    def snapshot(self, label: str = "") -> Snapshot:
        return Snapshot.from_catalog(self.catalog(), label)


@contextmanager
def trial(engine: Engine, dbname: str, exposed_schemas: Iterable[str]) -> Iterator[Trial]:
    """A :class:`Trial` on ``dbname`` in ``engine``'s cluster, rolled back when it ends."""
    with MigrationSession(connection_target(engine), dbname) as session:
        session.conn.execute("BEGIN")
        with undone(session.conn, "ROLLBACK"):
            yield Trial(session, exposed_schemas)


def surface_with(
    engine: Engine,
    dbname: str,
    sql: str,
    exposed_schemas: Iterable[str] = ("public", "graphql_public"),
    label: str = "with the migration",
) -> Snapshot:
    """The surface ``dbname`` would have after the migration ``sql``, without keeping it."""
    with trial(engine, dbname, exposed_schemas) as t:
        t.apply(sql)
        return t.snapshot(label)
