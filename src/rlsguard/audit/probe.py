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
from rlsguard.audit.findings import Category, Finding, Location, sort_findings
from rlsguard.audit.locate import Locator, SourceFile
from rlsguard.audit.rules.base import COMMAND_PRIVILEGES
from rlsguard.audit.rules.surface import GRANT_MODE_FIX, credential_reason, unreachable_tables
from rlsguard.audit.synth import (
    World,
    build_world,
    cast_literal,
    enum_choices,
    insert_query,
    own_row,
    row_values,
    with_owner_columns,
)
from rlsguard.audit.waivers import WaiverSpec, apply_waivers
from rlsguard.catalog import CatalogReader
from rlsguard.catalog.shapes import AUTH_USERS, Shapes, TableShape
from rlsguard.catalog.surface import Catalog, Function, Policy, Table, View
from rlsguard.database import Database
from rlsguard.errors import MisuseError, RlsguardError, Unsupported
from rlsguard.identity.session import Identity, Session, denial_kind
from rlsguard.transactions import undone
from rlsguard.vocab import Level

SYNTHETIC = ("a", "b")
SYNTHETIC_DOMAIN = "probe.rlsguard.invalid"
_ROLE_LIKE = re.compile(
    r"(^|_)(role|roles|rank|tier|plan|level|access|permission|permissions|privilege|"
    r"privileges|scope|scopes|kind|type|admin|staff)($|_)"
)
_MAX_VALUES = 4
_META_KEY = re.compile(r"raw_user_meta_data\s*->>?\s*'([^']+)'")
_META_COMPARE = re.compile(
    r"(?:user_metadata|raw_user_meta_data)'?(?:::text)?\)?\s*->>\s*'([^']+)'(?:::text)?\)*"
    r"\s*=\s*'([^']*)'"
)
_PUBLIC_NAME = re.compile(r"(^|[^a-z])(public|everyone|anyone|world)([^a-z]|$)", re.I)
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
            "Add a WITH CHECK to the UPDATE policy that pins the column to the value it may "
            "hold (compare it with what the SELECT policies trust, read through a helper keyed "
            "by `(select auth.uid())`), refuse its change in a BEFORE UPDATE trigger, or revoke "
            "UPDATE on the column.",
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
        ProbeRule(
            "public_by_policy",
            "info",
            "security",
            "Rows readable by everyone, on purpose",
            "Other users' rows were visible, through a SELECT policy that is literally "
            "`USING (true)` (and shadows no narrower policy) or whose name says the rows are "
            "public: a deliberate public read, reported so reviewers see what is public.",
            "Nothing to do if the table is meant to be public; otherwise scope the policy to "
            "the requester's own rows or tenant.",
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
    untested: dict[str, str] = field(default_factory=dict)  # table -> why 0 attempts


class _Probe:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        shapes: Shapes,
        locator: Locator,
        report: ProbeReport,
        reader: CatalogReader,
    ) -> None:
        self.db = db
        self.conn = db.conn
        self.reader = reader
        self.catalog = catalog
        self.shapes = shapes
        self.locator = locator
        self.report = report
        self.worlds: list[World] = []
        self.actors_by_name: dict[str, Actor] = {}
        self.signup_failure: str | None = None
        self.tried: dict[str, int] = defaultdict(int)  # attempts per table
        self.current: str | None = None  # the table being checked

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
        forged = self.forged_metadata()
        if forged:
            self.report.notes.append(
                "synthetic users sign up with user_metadata "
                f"{forged} (users can set it themselves) to test the policies that trust it"
            )
        choices = enum_choices(self.reader.check_constraints())
        for label in SYNTHETIC:
            email = f"rlsguard-probe-{label}-{token}@{SYNTHETIC_DOMAIN}"
            metadata = {"full_name": f"Probe {label}", **forged}
            try:
                user = self._sign_up(email, label, metadata)
            except RlsguardError as exc:  # a signup trigger that fails: say so, go on
                self.signup_failure = " ".join(str(exc).split())
                self.report.notes.append(
                    f"synthetic user {label} could not sign up, so cross-tenant checks are "
                    f"skipped: {exc}"
                )
                return
            world = World(label, email, str(user.id), choices=choices)
            self.worlds.append(build_world(self.conn, self.shapes, names, world, self.report.notes))

    def _sign_up(self, email: str, label: str, metadata: dict[str, Any]) -> Any:
        """Sign up; when a signup trigger needs metadata the probe did not send (a NOT NULL
        column filled from ``raw_user_meta_data ->> 'key'``), send every key the triggers
        read and try once more."""
        try:
            return self.db.create_user(email, user_metadata=metadata)
        except RlsguardError:
            missing = {
                k: f"probe-{label}" for k in self.signup_metadata_keys() if k not in metadata
            }
            if not missing:
                raise
        user = self.db.create_user(email, user_metadata={**metadata, **missing})
        self.report.notes.append(
            f"synthetic user {label} signed up with the metadata the signup trigger reads "
            f"({', '.join(sorted(missing))})"
        )
        return user

    def signup_metadata_keys(self) -> list[str]:
        """Keys the functions of this database read from ``raw_user_meta_data``."""
        keys: dict[str, None] = {}
        for function in self.catalog.functions:
            for key in _META_KEY.findall(function.body_raw or ""):
                keys[key] = None
        return list(keys)

    def forged_metadata(self) -> dict[str, str]:
        """``{key: literal}`` pairs policies compare user metadata with (``user_metadata ->>
        'role' = 'admin'``): a user can put them in their own metadata."""
        out: dict[str, str] = {}
        texts = [t for p in self.catalog.policies for t in (p.using_raw, p.with_check_raw) if t]
        texts += [f.body_raw for f in self.catalog.functions if f.body_raw]
        for text in texts:
            for key, literal in _META_COMPARE.findall(text):
                out.setdefault(key, literal)
        return out

    def actors(self, personas: Sequence[str] | None) -> list[Actor]:
        names = list(personas) if personas is not None else self.db.personas.names
        chosen: list[Actor] = []
        has_users = False
        unresolved: list[str] = []
        for name in names:
            persona = self.db.personas.get(name)
            if persona.role == "service_role":
                continue
            try:
                identity = self.db.personas.resolve(self.conn, name)
            except RlsguardError as exc:  # a persona whose user was never seeded
                self.report.notes.append(f"persona {name} skipped: {exc}")
                unresolved.append(name)
                continue
            has_users = has_users or identity.user_id is not None
            chosen.append(Actor(name, identity))
        if personas is not None and unresolved and not chosen:
            # The user asked for these personas: acting as someone else instead would
            # report a check of identities nobody asked about.
            self.report.notes.append(
                f"none of the personas asked for could act ({', '.join(unresolved)}): "
                "nothing was probed"
            )
            return []
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
        if self.current is not None:
            self.tried[self.current] += 1
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
        match = self._match(shape, rows)
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

    def readable_secrets(
        self,
        table: Table,
        shape: TableShape,
        actors: Sequence[Actor],
        seen: dict[str, tuple[int, int]],
    ) -> list[str]:
        """Secret-looking columns (by name or type) of other users' rows that a reader who
        saw them actually gets back: observed, not inferred from grants."""
        candidates = [
            c.name for c in table.columns if credential_reason(c.name, c.type) is not None
        ]
        reader = next((a for a in actors if a.name in seen), None)
        if not candidates or reader is None:
            return []
        rows = [w.rows[table.qualified] for w in self.others(reader) if table.qualified in w.rows]
        out = []
        for column in candidates:
            query = sql.SQL("SELECT count({}) FROM {} WHERE {}").format(
                sql.Identifier(column),
                sql.Identifier(shape.schema, shape.name),
                self._match(shape, rows),
            )
            try:
                self.run_as(reader, query, read_only=True)
            except psycopg.Error:
                continue  # a column privilege keeps it out
            out.append(column)
        return out

    def admitting(
        self, actor: Actor, table: Table, shape: TableShape, rows: Sequence[dict[str, Any]]
    ) -> list[Policy]:
        """The SELECT policies whose own condition is true for ``rows`` as ``actor``: the
        ones that admit the read (a finding points at them, not at the table)."""
        out = []
        for policy in table.policies:
            if (
                not policy.permissive
                or policy.command not in ("SELECT", "ALL")
                or policy.using_raw is None
                or not policy.applies_to(actor.role)
            ):
                continue
            query = sql.SQL("SELECT count(*) FROM {} WHERE ({}) AND ({})").format(
                sql.Identifier(shape.schema, shape.name),
                self._match(shape, rows),
                sql.SQL(policy.using_raw),  # type: ignore[arg-type]  # the catalog's own text
            )
            try:
                if int(self.run_as(actor, query, read_only=True)[1] or 0):
                    out.append(policy)
            except psycopg.Error:
                continue
        return out

    @staticmethod
    def _match(shape: TableShape, rows: Sequence[dict[str, Any]]) -> sql.Composable:
        keys = list(shape.primary_key) or sorted({c for r in rows for c in r})
        return sql.SQL(" OR ").join(
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
            self.current = table.qualified
            seen: dict[str, tuple[int, int]] = {}
            admitted: list[Policy] = []
            for actor in actors:
                if "SELECT" not in self.privileges(table, actor.role):
                    continue
                rows = [
                    w.rows[table.qualified]
                    for w in self.others(actor)
                    if table.qualified in w.owned or table.qualified in w.tenants
                ]
                if not rows:
                    continue
                count = self.count_visible(actor, shape, rows)
                if count:
                    seen[actor.name] = (count, len(rows))
                    if not admitted:
                        admitted = self.admitting(actor, table, shape, rows)
            secrets = self.readable_secrets(table, shape, actors, seen) if seen else []
            exposed = (
                f" Its secret-looking columns {', '.join(secrets)} came back too."
                if secrets
                else ""
            )
            if seen and (public := self.public_policies(table, seen)):
                counts = ", ".join(f"{name} {n} of {total}" for name, (n, total) in seen.items())
                names = ", ".join(p.name for p in public)
                yield self.finding(
                    "public_by_policy",
                    table,
                    f"rows of {table.qualified} that belong to other users are readable "
                    f"({counts}) through {names}, a SELECT policy that makes them public on "
                    f"purpose.{exposed}",
                    self.locator.policy(table.qualified, public[0].name)
                    or self._location(table, "SELECT"),
                    level="warn" if secrets else None,
                    secrets=secrets,
                    policies=[p.name for p in public],
                    reads={name: {"visible": n, "rows": t} for name, (n, t) in seen.items()},
                )
            elif seen:
                counts = ", ".join(f"{name} {n} of {total}" for name, (n, total) in seen.items())
                yield self.finding(
                    "cross_tenant_read",
                    table,
                    f"cross-tenant read: rows of {table.qualified} that belong to other users "
                    f"(synthetic users, each in a tenant of their own) are readable: {counts}"
                    + (f"; admitted by {', '.join(p.name for p in admitted)}." if admitted else ".")
                    + exposed,
                    next(
                        (
                            loc
                            for p in admitted
                            if (loc := self.locator.policy(table.qualified, p.name))
                        ),
                        None,
                    )
                    or self._location(table, "SELECT"),
                    reads={name: {"visible": n, "rows": t} for name, (n, t) in seen.items()},
                    policies=[p.name for p in admitted],
                    secrets=secrets,
                )

    def why_untested(self, table: Table, actors: Sequence[Actor]) -> str:
        """The real reason the probe tried nothing on ``table``, as a user fixes it."""
        name = table.qualified
        if not self.worlds:
            return f"the synthetic users could not sign up ({self.signup_failure or 'unknown'})"
        failures = [w.failures[name] for w in self.worlds if name in w.failures]
        if failures:
            return f"no synthetic row could be made: {failures[0]}"
        roles = sorted({a.role for a in actors})
        held = {r: self.privileges(table, r) & set(COMMAND_PRIVILEGES["ALL"]) for r in roles}
        if not any(held.values()):
            return (
                f"no acting role ({', '.join(roles)}) holds a privilege on it: grant "
                "what clients need, or set `[api] auto_expose_new_tables = true`"
            )
        if not any(name in w.owned for w in self.worlds):
            parents = {
                fk.target
                for w in self.worlds
                for owned in w.owned
                for fk in self.shapes.tables[owned].foreign_keys
            }
            if name in parents:
                return (
                    "it is a tenant other rows hang off, with no owner column of its own: "
                    "no synthetic user's row of it to read or write, so tenant isolation on "
                    "it is tested only through the tables that reference it"
                )
            return (
                "its synthetic row belongs to no one: no owner column (a uuid compared with "
                "auth.uid() or referencing auth.users) and no foreign key to a row that has one"
            )
        return (
            "nothing to try: the actors hold "
            + ", ".join(f"{r} {'/'.join(sorted(p)) or 'nothing'}" for r, p in held.items())
            + ", and no policy column they may update"
        )

    def identity_leaks(self, actors: Sequence[Actor]) -> Iterator[Finding]:
        """Views and API functions (``/rpc``) that show another user's email or id.

        A view that runs as its owner over ``auth.users`` is the classic leak; a stable
        function without arguments that returns profiles is its RPC twin. Each is read as
        every actor that may, looking for the synthetic users' emails and ids.
        """
        self.current = None  # attempts on views and functions are not a table's
        sources: list[tuple[View | Function, str, sql.Composable]] = []
        for view in self.catalog.views:
            if view.exposed:
                target = sql.SQL("{} AS r").format(sql.Identifier(view.schema, view.name))
                sources.append((view, "view", target))
        for function in self.catalog.functions:
            if (
                function.exposed
                and function.kind == "function"
                and not function.identity_arguments
                and function.volatility in ("stable", "immutable")
                and function.result not in (None, "void", "trigger", "event_trigger")
            ):
                target = sql.SQL("{}() AS r").format(sql.Identifier(function.schema, function.name))
                sources.append((function, "function", target))
        for source, kind, target in sources:
            name = f"{source.schema}.{source.name}"
            seen: dict[str, list[str]] = {}
            for actor in actors:
                if not self._may_read(source, kind, actor.role):
                    continue
                for world in self.others(actor):
                    marks = [m for m in (world.email, world.user_id) if m]
                    match = sql.SQL(" OR ").join(
                        sql.SQL("strpos(to_jsonb(r)::text, {}) > 0").format(sql.Literal(m))
                        for m in marks
                    )
                    query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(target, match)
                    try:
                        count = int(self.run_as(actor, query, read_only=True)[1] or 0)
                    except psycopg.Error:
                        continue
                    if count:
                        seen.setdefault(actor.name, []).append(f"synthetic user {world.label}")
            if seen:
                who = "; ".join(f"{a} sees {', '.join(w)}" for a, w in seen.items())
                how = "/rpc/" + source.name if kind == "function" else "the view"
                yield self.finding(
                    "cross_tenant_read",
                    source,
                    f"cross-tenant read through {kind} {name} ({how}): another user's email "
                    f"or id is readable: {who}.",
                    self.locator.relation(name) or self.locator.function(name),
                    reads=dict(seen),
                    via=kind,
                )

    @staticmethod
    def _may_read(source: View | Function, kind: str, role: str) -> bool:
        if kind == "function":
            return role in source.executable_by  # type: ignore[union-attr]
        return "SELECT" in source.effective.get(role, frozenset())  # type: ignore[union-attr]

    def public_policies(self, table: Table, seen: dict[str, tuple[int, int]]) -> list[Policy]:
        """The SELECT policies that make ``table`` public on purpose, for every actor that
        saw other users' rows: literally ``USING (true)`` with no narrower SELECT policy
        beside it (one beside it is a bug that makes it pointless), or named public."""
        roles = {a.role for a in self.actors_by_name.values() if a.name in seen}
        reading = [
            p
            for p in table.policies
            if p.permissive
            and p.command in ("SELECT", "ALL")
            and p.using_raw is not None
            and any(p.applies_to(r) for r in roles)
        ]
        names = frozenset(c.name for c in table.columns)
        true = [p for p in reading if analyse(p.using_raw, table.name, names).always_true]
        narrower = [p for p in reading if p not in true]
        named = [p for p in reading if _PUBLIC_NAME.search(p.name)]
        chosen = named or (true if not narrower else [])
        # Every actor that saw the rows must be one the chosen policies apply to.
        if not chosen or not all(any(p.applies_to(r) for p in chosen) for r in roles):
            return []
        return chosen

    def cross_tenant_write(
        self, actors: Sequence[Actor], tables: Sequence[Table]
    ) -> Iterator[Finding]:
        for table in tables:
            shape = self.shapes.tables[table.qualified]
            self.current = table.qualified
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
                    f"cross-tenant write: {table.qualified} accepts new rows that belong to "
                    f"another user or tenant: {described}.",
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
            self.current = table.qualified
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
                grade, effect = _GRADES[kind]
                yield self.finding(
                    "privilege_escalation",
                    table,
                    f"{grade}: {table.qualified}.{column} is {what}, and users rewrote it on "
                    f"their own row: {described} ({effect}).",
                    self._location(table, "UPDATE"),
                    level=level,
                    remediation=self._pin_fix(table, column),
                    column=column,
                    grade=grade,
                    changes={who: list(v) for who, v in done.items()},
                )

    # -- helpers -----------------------------------------------------------------------------
    def _pin_fix(self, table: Table, column: str) -> str:
        """The fix in the project's names: its UPDATE policies, table, column and roles."""
        policies = [
            p.name for p in table.policies if p.permissive and p.command in ("UPDATE", "ALL")
        ]
        roles = sorted(
            r for r in ("anon", "authenticated") if "UPDATE" in self.privileges(table, r)
        )
        names = ", ".join(policies) or "its UPDATE policy"
        return (
            f"Give {names} on {table.qualified} a WITH CHECK that constrains {column} to the "
            f"values the requester may set (as the SELECT policies of {table.qualified} "
            f"compare it), refuse a change of {column} in a BEFORE UPDATE trigger "
            f"(`if new.{column} is distinct from old.{column} then raise exception ...`), or "
            f"grant {', '.join(roles) or 'clients'} UPDATE on the other columns only."
        )

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
            described = shape.column(column)
            if described is not None and described.category == "B":
                # An is_admin flag nobody has set yet: no other row offers `true`.
                values.append((True, "true"))
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
        table: Table | View | Function,
        message: str,
        location: Location | None,
        *,
        level: Level | None = None,
        remediation: str | None = None,
        **details: Any,
    ) -> Finding:
        rule = PROBE_RULES[rule_id]
        return Finding(
            rule=rule.id,
            level=level or rule.level,
            category=rule.category,
            object=f"{table.schema}.{table.name}",
            message=message,
            remediation=remediation or rule.remediation,
            location=location,
            check="probe",
            details=details,
        )


# What a rewritten column lets a user do, most severe first (the finding says which).
_GRADES = {
    "role": ("role escalation", "the user gives themselves a role the policies trust"),
    "reference": (
        "tenant move",
        "the user moves their own row into another tenant, where its members see it and "
        "the policies treat it as theirs",
    ),
    "other": ("trusted value rewritten", "a value the policies trust is the user's to set"),
    "owner": (
        "ownership transfer",
        "the user hands their row to another user (it then counts as that user's)",
    ),
}


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
    reader: CatalogReader | None = None,
) -> ProbeReport:
    """Probe ``db`` (see the module docstring); nothing it does is kept.

    ``personas``: the persona names to act as (default: every persona of the project but
    service_role); when none of them is a signed-in user, anon and the two synthetic users
    act instead. ``files``: the migrations, so findings point at the policy to fix.
    ``reader``: a run's :class:`~rlsguard.catalog.CatalogReader`, to read the catalog once.
    """
    conn = db.conn
    # Our own transaction, or a savepoint in the caller's (a live database's rolled-back one).
    own = conn.info.transaction_status == TransactionStatus.IDLE
    if not own and conn.info.transaction_status != TransactionStatus.INTRANS:
        raise MisuseError(
            "probe a database on an autocommit connection (engine.connect(name, "
            "autocommit=True), or rlsguard_clone), or inside a transaction of yours"
        )
    report = ProbeReport()
    conn.execute("BEGIN" if own else "SAVEPOINT rlsguard_probe")
    with undone(conn, "ROLLBACK" if own else "ROLLBACK TO SAVEPOINT rlsguard_probe"):
        reader = reader or CatalogReader(conn)
        catalog = reader.surface(exposed_schemas)
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
        probe = _Probe(
            db,
            catalog,
            with_owner_columns(reader.shapes(), uid_columns),
            Locator(files),
            report,
            reader,
        )
        tables = probe.scope()
        report.tables = [t.qualified for t in tables]
        closed, every = unreachable_tables(catalog)
        if closed:
            shown = ", ".join(closed[:8]) + (
                f" and {len(closed) - 8} more" if len(closed) > 8 else ""
            )
            report.notes.append(
                f"{'no exposed table' if every else 'some tables with policies'} reachable by "
                f"anon or authenticated ({shown}): the probe cannot test them. {GRANT_MODE_FIX}"
            )
        probe.synthetic_worlds(tables)
        actors = probe.actors(personas)
        probe.actors_by_name = {a.name: a for a in actors}
        report.actors = [a.name for a in actors]
        findings = [
            *probe.privilege_escalation(actors, tables),
            *probe.cross_tenant_write(actors, tables),
            *probe.cross_tenant_read(actors, tables),
            *probe.identity_leaks(actors),
        ]
        probe.current = None
        for table in tables:
            if not probe.tried.get(table.qualified):
                settled = nothing_to_try(table)
                if settled is not None:
                    report.notes.append(f"{table.qualified} needs no attempt: {settled}")
                    continue
                cause = probe.why_untested(table, actors)
                report.untested[table.qualified] = cause
                report.notes.append(f"0 attempts on {table.qualified}: {cause}")
    specs = [WaiverSpec(w.rule, w.object, w.reason) for w in waivers]
    report.findings = sort_findings(
        apply_waivers(
            findings, specs, rules_run=list(PROBE_RULES), source=waiver_source, check="probe"
        )
    )
    return report


def nothing_to_try(table: Table) -> str | None:
    """Why Postgres itself settles every API request on ``table``, or ``None``.

    RLS on, not owned by an API role (an owner skips RLS unless forced), and either no
    permissive policy (storage's tables, exposed by older config.toml templates, in a project
    that adds no storage policy) or only SELECT policies that admit every row (a product
    catalog): reads are all or nothing by design, and no write can pass. Such a table has no
    owner the probe could pit users against, and is not a gap in what it checked."""
    if not table.rls_enabled or table.owner in ("anon", "authenticated"):
        return None
    permissive = [p for p in table.policies if p.permissive]
    if not permissive:
        return (
            "row level security is on and no policy admits any role, so the API can neither "
            "read nor change it"
        )
    if all(p.command == "SELECT" and analyse(p.using_raw).always_true for p in permissive):
        return (
            "its only policies let every row be read (public by design) and none admits a "
            "write, so row level security refuses every change"
        )
    return None


def probe_database(db: Database, **options: Any) -> list[Finding]:
    """The findings of :func:`run_probe` (the library entry point the gate uses)."""
    return run_probe(db, **options).findings
