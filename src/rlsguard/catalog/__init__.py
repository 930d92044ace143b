"""The one reader of the Postgres catalog: what snapshot, lint, probe and the matrix see.

Every check reads the catalog through this package, typed:

- :mod:`.surface` - the security surface (tables, RLS, policies, grants, views, functions,
  default privileges, roles; Storage buckets, BEFORE UPDATE triggers, column comments):
  snapshot, diff, lint, probe;
- :mod:`.tables` - the facts a matrix check needs per table (columns, keys, per-role
  updatable columns) and the policies/privileges its explanations cite;
- :mod:`.shapes` - the data shape the probe builds rows from (types, keys, foreign keys,
  CHECK constraints);
- :mod:`.state` - what the bootstrap and the migration runner find already there;
- :mod:`.settings` - ``ALTER ROLE/DATABASE ... SET`` (sessions apply them, clones copy them).

A :class:`CatalogReader` reads each part once for one connection and run: hand the same
reader to every check of a run (the gate does); make a new one after DDL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from rlsguard.vocab import API_ROLES

if TYPE_CHECKING:
    from rlsguard.catalog.shapes import Shapes
    from rlsguard.catalog.state import CatalogState
    from rlsguard.catalog.surface import Bucket, Catalog, Trigger
    from rlsguard.catalog.tables import TableInfo

DEFAULT_EXPOSED = ("public", "graphql_public")


class CatalogReader:
    """Reads the catalog of one connection, each part at most once (per arguments)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _once(self, key: tuple[Any, ...], read: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def surface(self, exposed_schemas: Iterable[str] = DEFAULT_EXPOSED) -> Catalog:
        from rlsguard.catalog.surface import read_catalog

        exposed = tuple(dict.fromkeys(exposed_schemas))
        return self._once(("surface", exposed), lambda: read_catalog(self.conn, exposed))  # type: ignore[no-any-return]

    def buckets(self) -> list[Bucket]:
        from rlsguard.catalog.surface import read_buckets

        return self._once(("buckets",), lambda: read_buckets(self.conn))  # type: ignore[no-any-return]

    def triggers(self) -> list[Trigger]:
        from rlsguard.catalog.surface import read_triggers

        return self._once(("triggers",), lambda: read_triggers(self.conn))  # type: ignore[no-any-return]

    def column_comments(self) -> dict[tuple[str, str], str]:
        from rlsguard.catalog.surface import read_column_comments

        return self._once(("comments",), lambda: read_column_comments(self.conn))  # type: ignore[no-any-return]

    def shapes(self) -> Shapes:
        from rlsguard.catalog.shapes import read_shapes

        return self._once(("shapes",), lambda: read_shapes(self.conn))  # type: ignore[no-any-return]

    def check_constraints(self) -> list[tuple[str, str]]:
        from rlsguard.catalog.shapes import read_check_constraints

        return self._once(("checks",), lambda: read_check_constraints(self.conn))  # type: ignore[no-any-return]

    def tables(self, names: Iterable[str], roles: Iterable[str]) -> dict[str, TableInfo | None]:
        from rlsguard.catalog.tables import describe_tables

        wanted, who = tuple(names), tuple(sorted(set(roles)))
        return self._once(("tables", wanted, who), lambda: describe_tables(self.conn, wanted, who))  # type: ignore[no-any-return]

    def state(self) -> CatalogState:
        from rlsguard.catalog.state import probe

        return self._once(("state",), lambda: probe(self.conn))  # type: ignore[no-any-return]

    def role_settings(self, roles: Sequence[str] = API_ROLES) -> dict[str, dict[str, str]]:
        from rlsguard.catalog.settings import role_settings

        return self._once(("settings", tuple(roles)), lambda: role_settings(self.conn, roles))  # type: ignore[no-any-return]

    def forget(self) -> None:
        """Read everything again next time (after DDL on this connection)."""
        self._memo.clear()


__all__ = ["DEFAULT_EXPOSED", "CatalogReader"]
