"""Role and database settings (``ALTER ROLE/DATABASE ... SET``): one reader for every use.

Sessions apply the API roles' settings as PostgREST does; clones copy a database's own
settings, which ``CREATE DATABASE ... TEMPLATE`` does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from rlsguard.vocab import API_ROLES

# One row per setting of pg_db_role_setting: for every database (setdatabase 0) or for the
# named one (default: the current one); role NULL for ``ALTER DATABASE ... SET``. ``user``
# context (or an unknown placeholder) is what a role may set for itself.
_SETTINGS = """
select r.rolname, s.setdatabase = 0, split_part(c.item, '=', 1),
       substr(c.item, strpos(c.item, '=') + 1), p.name is null or p.context = 'user'
from pg_db_role_setting s
left join pg_roles r on r.oid = s.setrole
cross join lateral unnest(s.setconfig) as c(item)
left join pg_settings p on p.name = split_part(c.item, '=', 1)
where s.setdatabase = 0 and %(all_databases)s
   or s.setdatabase = (select oid from pg_database
                       where datname = coalesce(%(database)s, current_database()))
order by r.rolname nulls first, s.setdatabase
"""


@dataclass(frozen=True)
class Setting:
    """One ``name = value`` set for a role (None: the database), in one or every database."""

    role: str | None
    all_databases: bool
    name: str
    value: str
    user_settable: bool


def read_settings(
    conn: psycopg.Connection[Any], *, database: str | None = None, all_databases: bool = True
) -> list[Setting]:
    """Settings in ``database`` (default: the current one), plus those for every database."""
    rows = conn.execute(_SETTINGS, {"database": database, "all_databases": all_databases})
    return [Setting(*row) for row in rows.fetchall()]


def role_settings(
    conn: psycopg.Connection[Any], roles: Sequence[str] = API_ROLES
) -> dict[str, dict[str, str]]:
    """The per-role settings PostgREST would apply, for each API role (this database wins)."""
    return settings_by_role(read_settings(conn), roles)


def settings_by_role(
    settings: Iterable[Setting], roles: Sequence[str]
) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {role: {} for role in roles}
    for s in settings:  # every-database settings come first: the database's own override them
        if s.role in found and s.user_settable:
            found[s.role][s.name] = s.value
    return found


def database_settings(conn: psycopg.Connection[Any], database: str) -> list[Setting]:
    """What ``ALTER DATABASE/ROLE ... IN DATABASE ... SET`` gave ``database`` itself."""
    return read_settings(conn, database=database, all_databases=False)
