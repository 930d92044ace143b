"""``rlsguard probe``: behavioural checks that need no expectations.

Everything happens in one transaction that is rolled back, each attempt in its own
savepoint, so the database ends as it began. Two synthetic users (``rlsguard-probe-a`` and
``-b``) sign up and get a world of their own (:mod:`.synth`): a row in every table the API
reaches, tied to them by owner columns and foreign keys, in a tenant no seeded user belongs to.
Then every actor - the project's personas (service_role aside), or without personas anon and
the two synthetic users - tries, through PostgREST-exact sessions:

- ``privilege_escalation``: to change each column of its own rows that a policy reads to a
  value taken from other rows (another role, another user's tenant, another user). Success on
  a role or tenant column is an error; handing one's row to another user is a warning.
- ``cross_tenant_write``: to insert a row owned by a synthetic user, or one that hangs off
  their tenant (their class, their school) while naming itself as the owner.
- ``cross_tenant_read``: to read the rows of a synthetic user; reported with counts.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from rlsguard.audit.exprs import (
    PRIVILEGE_FLAG_COLUMNS,
    analyse,
    analyse_body,
    is_privilege_literal,
)
from rlsguard.audit.findings import Category, Finding, Level, Location, sort_findings
from rlsguard.audit.locate import Locator, SourceFile
from rlsguard.audit.rules.base import COMMAND_PRIVILEGES
from rlsguard.audit.shape import AUTH_USERS, Shapes, TableShape, read_shapes
from rlsguard.audit.synth import (
    Unsupported,
    World,
    build_world,
    cast_literal,
    insert_query,
    own_row,
    row_values,
)
from rlsguard.audit.waivers import WaiverSpec, apply_waivers
from rlsguard.database import Database
from rlsguard.errors import RlsguardError
from rlsguard.identity.session import Identity, Session, denial_kind
from rlsguard.policy.catalog import Catalog, Table, read_catalog
from rlsguard.transactions import undone

SYNTHETIC = ("a", "b")
SYNTHETIC_DOMAIN = "probe.rlsguard.invalid"
_ROLE_LIKE = re.compile(
    r"(^|_)(role|roles|rank|tier|plan|level|access|permission|permissions|privilege|"
    r"privileges|scope|scopes|kind|type|admin|staff)($|_)"
)
_MAX_VALUES = 4
_ids = itertools.count(1)


@dataclass(frozen=True)
class ProbeRule:
    id: str
    level: Level
    category: Category
    title: str
    description: str
    remediation: str


PROBE_RULES: dict[str, ProbeRule] = {
    rule.id: rule
    for rule in (
        ProbeRule(
            "privilege_escalation",
            "error",
            "security",
            "A user can rewrite what policies trust on their own row",
            "The probe changed a column that a policy reads (a role, a tenant, an owner) on "
            "the actor's own row to a value from another row, and the database accepted it.",
            "Add a WITH CHECK to the UPDATE policy that pins the column to the trusted value "
            "(as `role is not distinct from (select private.app_role())`), or revoke UPDATE on "
            "the column.",
        ),
        ProbeRule(
            "cross_tenant_write",
            "error",
            "security",
            "A user can write rows of another user or tenant",
            "The probe inserted a row owned by another (synthetic) user, or attached to their "
            "tenant, and the database accepted it.",
            "Give the INSERT policy a WITH CHECK that ties the new row to the requester "
            "(`owner_id = (select auth.uid())`) and to a tenant they belong to.",
        ),
        ProbeRule(
            "cross_tenant_read",
            "error",
            "security",
            "A user can read rows of another user",
            "Rows that belong to a synthetic user in a tenant of their own were visible to "
            "another actor.",
            "Scope the SELECT policies to the requester's own rows or tenant; if the table is "
            "public on purpose, waive the finding with the reason.",
        ),
    )
}


@dataclass
class Actor:
    """Who makes requests: a persona or a synthetic user."""

    name: str
    identity: Identity

    @property
    def role(self) -> str:
        return self.identity.role

    @property
    def user_id(self) -> str | None:
        return self.identity.user_id


@dataclass
class ProbeReport:
    """Findings plus what the probe did and could not do."""

    findings: list[Finding] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    attempts: int = 0
    notes: list[str] = field(default_factory=list)


class _Probe:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        shapes: Shapes,
        locator: Locator,
        report: ProbeReport,
    ) -> None:
        self.db = db
        self.conn = db.conn
        self.catalog = catalog
        self.shapes = shapes
        self.locator = locator
        self.report = report
        self.worlds: list[World] = []

    # -- scope -------------------------------------------------------------------------------
    def scope(self) -> list[Table]:
        """Exposed tables a client role may touch at all, with a known shape."""
        out = []
        for table in self.catalog.tables:
            if not table.exposed or table.kind == "foreign table":
                continue
            if self.shapes.get(table.qualified) is None:
                continue
            if any(
                self.privileges(table, role) & {"SELECT", "INSERT", "UPDATE", "DELETE"}
                for role in ("anon", "authenticated")
            ):
                out.append(table)
        return out

    @staticmethod
    def privileges(table: Table, role: str) -> frozenset[str]:
        held = set(table.effective.get(role, frozenset()))
        for column in table.columns:
            held |= {g.privilege for g in column.grants if g.grantee in (role, "PUBLIC")}
        return frozenset(held)

    @staticmethod
    def columns_with(table: Table, role: str, privilege: str) -> frozenset[str]:
        if privilege in table.effective.get(role, frozenset()):
            return frozenset(c.name for c in table.columns)
        return frozenset(
            c.name
            for c in table.columns
            if any(g.grantee in (role, "PUBLIC") and g.privilege == privilege for g in c.grants)
        )

    # -- actors ----------------------------------------------------------------------------
    def synthetic_worlds(self, tables: Sequence[Table]) -> None:
        names = [t.qualified for t in tables]
        token = next(_ids)
        for label in SYNTHETIC:
            email = f"rlsguard-probe-{label}-{token}@{SYNTHETIC_DOMAIN}"
            try:
                user = self.db.create_user(email, user_metadata={"full_name": f"Probe {label}"})
            except RlsguardError as exc:  # a signup trigger that fails: say so, go on
                self.report.notes.append(
                    f"synthetic user {label} could not sign up, so cross-tenant checks are "
                    f"skipped: {exc}"
                )
                return
            world = World(label, email, str(user.id))
            self.worlds.append(build_world(self.conn, self.shapes, names, world, self.report.notes))

    def actors(self, personas: Sequence[str] | None) -> list[Actor]:
        names = list(personas) if personas is not None else self.db.personas.names
        chosen: list[Actor] = []
        has_users = False
        for name in names:
            persona = self.db.personas.get(name)
            if persona.role == "service_role":
                continue
            try:
                identity = self.db.personas.resolve(self.conn, name)
            except RlsguardError as exc:  # a persona whose user was never seeded
                self.report.notes.append(f"persona {name} skipped: {exc}")
                continue
            has_users = has_users or identity.user_id is not None
            chosen.append(Actor(name, identity))
        if not has_users:
            chosen = [Actor("anon", self.db.personas.for_role("anon"))]
            for world in self.worlds:
                identity = self.db.personas.for_user(self.conn, world.email)
                chosen.append(Actor(f"synthetic user {world.label}", identity))
        return chosen

    def session(self, actor: Actor) -> Session:
        return self.db.session(actor.identity)

    # -- attempts ----------------------------------------------------------------------------
    def run_as(
        self,
        actor: Actor,
        statement: sql.Composable,
        *,
        before: sql.Composable | None = None,
        read_only: bool = False,
    ) -> tuple[int, Any]:
        """Run one statement as ``actor`` in a savepoint that is rolled back afterwards.

        One round trip there (savepoint, ``before`` as the superuser, the PostgREST prologue,
        the statement) and one back (rollback). Returns the statement's row count and its
        first value; raises the statement's :class:`psycopg.Error`.
        """
        savepoint = sql.Identifier(f"rlsguard_probe_{next(_ids)}")
        self.report.attempts += 1
        parts: list[sql.Composable] = [sql.SQL("SAVEPOINT {}").format(savepoint)]
        if before is not None:
            parts.append(before)
        if read_only:
            parts.append(sql.SQL("SET LOCAL transaction_read_only = on"))
        parts.extend(self.session(actor).impersonation())
        parts.append(statement)
        script = sql.SQL("; ").join(parts).as_string(self.conn)
        undo = sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(savepoint)
        with undone(self.conn, undo), self.conn.cursor() as cur:
            cur.execute(script)
            while cur.nextset():
                pass
            row = cur.fetchone() if cur.description else None
            return cur.rowcount, (row[0] if row else None)

    def attempt(
        self, actor: Actor, statement: sql.Composable, *, before: sql.Composable | None = None
    ) -> int | None:
        """Rows a write as ``actor`` affected (undone afterwards); None when it was refused."""
        try:
            return self.run_as(actor, statement, before=before)[0]
        except psycopg.Error:
            return None

    def count_visible(
        self, actor: Actor, shape: TableShape, rows: Sequence[dict[str, Any]]
    ) -> int | None:
        """How many of ``rows`` ``actor`` can read (None: the read itself failed)."""
        keys = list(shape.primary_key) or sorted({c for r in rows for c in r})
        match = sql.SQL(" OR ").join(
            sql.SQL("({})").format(
                sql.SQL(" AND ").join(
                    sql.SQL("{} IS NOT DISTINCT FROM {}").format(
                        sql.Identifier(k), sql.Literal(row[k])
                    )
                    for k in keys
                )
            )
            for row in rows
        )
        query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
            sql.Identifier(shape.schema, shape.name), match
        )
        try:
            return int(self.run_as(actor, query, read_only=True)[1])
        except psycopg.Error as exc:
            kind = denial_kind(exc) or exc.diag.sqlstate
            self.report.notes.append(
                f"{actor.name} cannot read {shape.qualified} ({kind}): "
                f"{exc.diag.message_primary or exc}"
            )
            return None

    # -- checks ------------------------------------------------------------------------------
    def others(self, actor: Actor) -> list[World]:
        """The synthetic users that are not ``actor``."""
        return [w for w in self.worlds if w.user_id != actor.user_id]

    def victims(self, actor: Actor) -> list[World]:
        """Whose rows ``actor`` tries to write: one other synthetic user is enough (they are
        built alike); reads are counted over all of them."""
        return self.others(actor)[:1]

    def cross_tenant_read(
        self, actors: Sequence[Actor], tables: Sequence[Table]
    ) -> Iterator[Finding]:
        for table in tables:
            shape = self.shapes.tables[table.qualified]
            seen: dict[str, tuple[int, int]] = {}
            for actor in actors:
                if "SELECT" not in self.privileges(table, actor.role):
                    continue
                rows = [
                    w.rows[table.qualified]
                    for w in self.others(actor)
                    if table.qualified in w.owned
                ]
                if not rows:
                    continue
                count = self.count_visible(actor, shape, rows)
                if count:
                    seen[actor.name] = (count, len(rows))
            if seen:
                counts = ", ".join(f"{name} {n} of {total}" for name, (n, total) in seen.items())
                yield self.finding(
                    "cross_tenant_read",
                    table,
                    f"rows of {table.qualified} that belong to other users (synthetic users, "
                    f"each in a tenant of their own) are readable: {counts}.",
                    self._location(table, "SELECT"),
                    reads={name: {"visible": n, "rows": t} for name, (n, t) in seen.items()},
                )

    def cross_tenant_write(
        self, actors: Sequence[Actor], tables: Sequence[Table]
    ) -> Iterator[Finding]:
        for table in tables:
            shape = self.shapes.tables[table.qualified]
            accepted: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
            for actor in actors:
                if "INSERT" not in self.privileges(table, actor.role):
                    continue
                insertable = self.columns_with(table, actor.role, "INSERT")
                for world in self.victims(actor):
                    if table.qualified not in world.owned:
                        continue
                    for variant, owner in self._write_variants(actor, world, shape):
                        values = self._insert_values(shape, world, owner, insertable)
                        if values is None:
                            continue
                        query = insert_query(shape, values)
                        # Make room: the victim's own row may hold the unique values a new
                        # row of theirs needs (one submission per assignment and student).
                        room = self._delete_row(shape, world.rows[table.qualified])
                        if self.attempt(actor, query, before=room):
                            accepted[actor.name][variant].append(world.label)
            if accepted:
                described = "; ".join(
                    f"{name}: "
                    + ", ".join(f"{variant} {' and '.join(who)}" for variant, who in what.items())
                    for name, what in accepted.items()
                )
                yield self.finding(
                    "cross_tenant_write",
                    table,
                    f"{table.qualified} accepts new rows that belong to another user or tenant: "
                    f"{described}.",
                    self._location(table, "INSERT"),
                    writes={name: dict(what) for name, what in accepted.items()},
                )

    def _insert_values(
        self, shape: TableShape, world: World, owner: str, insertable: frozenset[str]
    ) -> dict[str, Any] | None:
        try:
            values = row_values(shape, world, world.rows, self.conn, owner_id=owner)
        except Unsupported:
            return None
        values = {k: v for k, v in values.items() if k in insertable}
        return values or None

    @staticmethod
    def _delete_row(shape: TableShape, row: dict[str, Any]) -> sql.Composable | None:
        if not shape.primary_key:
            return None
        return sql.SQL("DELETE FROM {} WHERE {}").format(
            sql.Identifier(shape.schema, shape.name),
            sql.SQL(" AND ").join(
                sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(row[k]))
                for k in shape.primary_key
            ),
        )

    def _write_variants(
        self, actor: Actor, world: World, shape: TableShape
    ) -> Iterator[tuple[str, str]]:
        """(description, owner id): a row in the victim's name, and one in the actor's own
        name hanging off the victim's rows (when the table references any)."""
        if shape.owner_columns:
            yield "a row owned by synthetic user", world.user_id
        references_world = any(
            fk.target in world.owned
            and fk.target != AUTH_USERS
            and not set(fk.columns) & shape.owner_columns
            for fk in shape.foreign_keys
        )
        if actor.user_id and references_world:
            yield "its own row attached to the rows of synthetic user", actor.user_id
        elif not shape.owner_columns and references_world:
            yield "a row attached to the rows of synthetic user", world.user_id

    def privilege_escalation(
        self, actors: Sequence[Actor], tables: Sequence[Table]
    ) -> Iterator[Finding]:
        for table in tables:
            shape = self.shapes.tables[table.qualified]
            trusted = self.trusted.get(table.qualified, {})
            read = set(trusted)
            role_columns = {c for c, literals in trusted.items() if literals}
            if not read or not shape.primary_key:
                continue
            changes: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
            for actor in actors:
                if actor.user_id is None or "UPDATE" not in self.privileges(table, actor.role):
                    continue
                updatable = self.columns_with(table, actor.role, "UPDATE")
                own = own_row(self.conn, shape, actor.user_id)
                if own is None:
                    continue
                for column in sorted(read & updatable - set(shape.primary_key)):
                    kind = self._column_kind(shape, column, role_columns)
                    for value, label in self._candidates(table, shape, column, kind, own, actor):
                        query = sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(
                            sql.Identifier(shape.schema, shape.name),
                            sql.Identifier(column),
                            cast_literal(shape, column, value),
                            sql.SQL(" AND ").join(
                                sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(own[k]))
                                for k in shape.primary_key
                            ),
                        )
                        if self.attempt(actor, query):
                            changes[column][f"{actor.name} ({_show(own[column])})"].append(label)
            for column, done in sorted(changes.items()):
                kind = self._column_kind(shape, column, role_columns)
                level: Level = "warn" if kind == "owner" else "error"
                what = {
                    "role": "a role column its policies read",
                    "owner": "the owner column its policies read",
                }.get(kind, "a column its policies read")
                described = "; ".join(f"{who} -> {', '.join(v)}" for who, v in done.items())
                yield self.finding(
                    "privilege_escalation",
                    table,
                    f"{table.qualified}.{column} is {what}, and users rewrote it on their own "
                    f"row: {described}.",
                    self._location(table, "UPDATE"),
                    level=level,
                    column=column,
                    changes={who: list(v) for who, v in done.items()},
                )

    # -- helpers -----------------------------------------------------------------------------
    @functools.cached_property
    def trusted(self) -> dict[str, dict[str, set[str]]]:
        """Per table, the columns some policy reads (directly, in a subquery, or in a function
        a policy calls), each with the privilege literals it is compared with."""
        out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        by_name: dict[str, list[Any]] = defaultdict(list)
        for function in self.catalog.functions:
            by_name[f"{function.schema}.{function.name}"].append(function)
        called: set[str] = set()
        for table in self.catalog.tables:
            names = frozenset(c.name for c in table.columns)
            for policy in table.policies:
                for text in (policy.using_raw, policy.with_check_raw):
                    if text is None:
                        continue
                    analysis = analyse(text, table.name, names)
                    for column in analysis.columns:
                        out[table.qualified].setdefault(column, set())
                    for column, literal in analysis.row_role_tests:
                        out[table.qualified][column].add(literal)
                    _add_foreign(out, analysis.foreign_columns, analysis.foreign_literals)
                    called |= analysis.functions
        seen: set[str] = set()
        while called - seen:
            name = (called - seen).pop()
            seen.add(name)
            for function in by_name.get(name, ()):
                facts = analyse_body(function.body_raw, function.language)
                _add_foreign(out, facts.foreign_columns, facts.foreign_literals)
                called |= facts.functions
        return out

    def _column_kind(self, shape: TableShape, column: str, role_columns: set[str]) -> str:
        if (
            column in role_columns
            or _ROLE_LIKE.search(column)
            or PRIVILEGE_FLAG_COLUMNS.match(column)
        ):
            return "role"
        if column in shape.owner_columns:
            return "owner"
        if shape.foreign_key(column) is not None:
            return "reference"
        return "other"

    def _own_row(self, shape: TableShape, user_id: str) -> dict[str, Any] | None:
        return own_row(self.conn, shape, user_id)

    def _candidates(
        self,
        table: Table,
        shape: TableShape,
        column: str,
        kind: str,
        own: dict[str, Any],
        actor: Actor,
    ) -> list[tuple[Any, str]]:
        """(value, how to show it) from other rows: other roles, another user's tenant, another
        user."""
        current = own.get(column)
        values: list[tuple[Any, str]] = []
        if kind == "role":
            rows = self.conn.execute(
                sql.SQL(
                    "SELECT DISTINCT {0} FROM {1} WHERE {0} IS NOT NULL "
                    "AND {0} IS DISTINCT FROM %s ORDER BY 1 LIMIT {2}"
                ).format(
                    sql.Identifier(column),
                    sql.Identifier(shape.schema, shape.name),
                    sql.Literal(_MAX_VALUES),
                ),
                [current],
            ).fetchall()
            values.extend((r[0], _show(r[0])) for r in rows)
            literals = self.trusted.get(table.qualified, {}).get(column, set())
            values.extend((v, _show(v)) for v in sorted(literals))
        else:
            fk = shape.foreign_key(column)
            for world in self.victims(actor):
                if fk is not None and fk.target != AUTH_USERS:
                    value = world.value(fk.target, fk.target_columns[0])
                    label = f"synthetic user {world.label}'s {fk.target} row"
                elif kind == "owner":
                    value, label = world.user_id, f"synthetic user {world.label}"
                else:
                    value = world.value(shape.qualified, column)
                    label = f"{_show(value)} (synthetic user {world.label}'s)"
                values.append((value, label))
        out: list[tuple[Any, str]] = []
        for value, label in values:
            if (
                value is None
                or str(value) == str(current)
                or str(value) in {str(v) for v, _ in out}
            ):
                continue
            out.append((value, label))
        return out[:_MAX_VALUES]

    def _location(self, table: Table, command: str) -> Location | None:
        if not table.rls_enabled:
            return self.locator.rls(table.qualified)
        located = [
            loc
            for p in table.policies
            if p.permissive
            and command in COMMAND_PRIVILEGES[p.command]
            and (loc := self.locator.policy(table.qualified, p.name)) is not None
        ]
        return self.locator.latest(located) or self.locator.relation(table.qualified)

    def finding(
        self,
        rule_id: str,
        table: Table,
        message: str,
        location: Location | None,
        *,
        level: Level | None = None,
        **details: Any,
    ) -> Finding:
        rule = PROBE_RULES[rule_id]
        return Finding(
            rule=rule.id,
            level=level or rule.level,
            category=rule.category,
            object=table.qualified,
            message=message,
            remediation=rule.remediation,
            location=location,
            check="probe",
            details=details,
        )


def _add_foreign(
    out: dict[str, dict[str, set[str]]],
    columns: Iterable[tuple[str, str]],
    literals: Iterable[tuple[str, str, str]],
) -> None:
    for relation, column in columns:
        out[relation].setdefault(column, set())
    for relation, column, literal in literals:
        if is_privilege_literal(literal):
            out[relation][column].add(literal)


def _show(value: Any) -> str:
    return "NULL" if value is None else repr(str(value))


def run_probe(
    db: Database,
    *,
    exposed_schemas: Iterable[str] = ("public", "graphql_public"),
    personas: Sequence[str] | None = None,
    files: Iterable[SourceFile] = (),
    waivers: Sequence[Any] = (),
    waiver_source: str | None = None,
) -> ProbeReport:
    """Probe ``db`` (see the module docstring); nothing it does is kept.

    ``personas``: the persona names to act as (default: every persona of the project but
    service_role); when none of them is a signed-in user, anon and the two synthetic users
    act instead. ``files``: the migrations, so findings point at the policy to fix.
    """
    conn = db.conn
    # Our own transaction, or a savepoint in the caller's (a live database's rolled-back one).
    own = conn.info.transaction_status == TransactionStatus.IDLE
    if not own and conn.info.transaction_status != TransactionStatus.INTRANS:
        raise RuntimeError("probe a database on an autocommit connection")
    report = ProbeReport()
    conn.execute("BEGIN" if own else "SAVEPOINT rlsguard_probe")
    with undone(conn, "ROLLBACK" if own else "ROLLBACK TO SAVEPOINT rlsguard_probe"):
        catalog = read_catalog(conn, exposed_schemas)
        uid_columns = {
            t.qualified: {
                c
                for p in t.policies
                for text in (p.using_raw, p.with_check_raw)
                if text is not None
                for c in analyse(text, t.name, frozenset(col.name for col in t.columns)).uid_columns
            }
            for t in catalog.tables
        }
        probe = _Probe(db, catalog, read_shapes(conn, uid_columns), Locator(files), report)
        tables = probe.scope()
        report.tables = [t.qualified for t in tables]
        probe.synthetic_worlds(tables)
        actors = probe.actors(personas)
        report.actors = [a.name for a in actors]
        findings = [
            *probe.privilege_escalation(actors, tables),
            *probe.cross_tenant_write(actors, tables),
            *probe.cross_tenant_read(actors, tables),
        ]
    specs = [WaiverSpec(w.rule, w.object, w.reason) for w in waivers]
    report.findings = sort_findings(
        apply_waivers(
            findings, specs, rules_run=list(PROBE_RULES), source=waiver_source, check="probe"
        )
    )
    return report


def probe_database(db: Database, **options: Any) -> list[Finding]:
    """The findings of :func:`run_probe` (the library entry point the gate uses)."""
    return run_probe(db, **options).findings
