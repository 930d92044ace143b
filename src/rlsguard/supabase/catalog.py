"""One round trip that tells the bootstrap and the migration runner what a database already has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

_PROBE = """
select json_build_object(
  'version_num', current_setting('server_version_num')::int,
  'version', current_setting('server_version'),
  'database', current_database(),
  'database_owner', (select pg_get_userbyid(datdba) from pg_database
                     where datname = current_database()),
  'superuser', current_setting('is_superuser') = 'on',
  'user', current_user,
  'roles', (select json_object_agg(rolname, json_build_object(
              'login', rolcanlogin, 'superuser', rolsuper, 'inherit', rolinherit,
              'createrole', rolcreaterole, 'createdb', rolcreatedb,
              'replication', rolreplication, 'bypassrls', rolbypassrls,
              'config', rolconfig))
            from pg_roles),
  'memberships', (select json_agg(json_build_array(r.rolname, m.rolname, a.admin_option))
                  from pg_auth_members a
                  join pg_roles r on r.oid = a.roleid
                  join pg_roles m on m.oid = a.member),
  'schemas', (select json_agg(nspname) from pg_namespace),
  'relations', (select json_agg(n.nspname || '.' || c.relname)
                from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname in ('auth', 'storage', 'supabase_migrations') and c.relkind = 'r'),
  'functions', (select json_agg(distinct n.nspname || '.' || p.proname)
                from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname in ('auth', 'storage', 'extensions', 'pgbouncer', 'vault')),
  'extensions', (select json_object_agg(extname, extnamespace::regnamespace::text)
                 from pg_extension),
  'available', (select json_agg(name) from pg_available_extensions),
  'publications', (select json_agg(pubname) from pg_publication)
)
"""


@dataclass(frozen=True)
class CatalogState:
    """What exists in one database (and its cluster), as found by :func:`probe`."""

    version_num: int
    version: str
    database: str
    database_owner: str
    superuser: bool
    user: str
    roles: Mapping[str, Mapping[str, Any]]
    memberships: frozenset[tuple[str, str]]
    admin_memberships: frozenset[tuple[str, str]]
    schemas: frozenset[str]
    relations: frozenset[str]
    functions: frozenset[str]
    extensions: Mapping[str, str]
    available: frozenset[str]
    publications: frozenset[str]

    @property
    def major(self) -> int:
        return self.version_num // 10000

    def has_role(self, name: str) -> bool:
        return name in self.roles


def probe(conn: psycopg.Connection[Any]) -> CatalogState:
    row = conn.execute(_PROBE).fetchone()
    assert row is not None
    data = row[0]
    members = data["memberships"] or []
    return CatalogState(
        version_num=data["version_num"],
        version=data["version"],
        database=data["database"],
        database_owner=data["database_owner"],
        superuser=data["superuser"],
        user=data["user"],
        roles=data["roles"] or {},
        memberships=frozenset((role, member) for role, member, _ in members),
        admin_memberships=frozenset((role, member) for role, member, admin in members if admin),
        schemas=frozenset(data["schemas"] or ()),
        relations=frozenset(data["relations"] or ()),
        functions=frozenset(data["functions"] or ()),
        extensions=data["extensions"] or {},
        available=frozenset(data["available"] or ()),
        publications=frozenset(data["publications"] or ()),
    )
