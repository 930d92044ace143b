"""Faults of the runbook's section 1, each a plan: SQL that breaks, SQL that undoes it.

A fault never touches the database itself: :meth:`Fault.plan` reads the baseline (the
approved snapshot) and returns the statements to apply and, computed *before* anything is
applied, idempotent statements that put the baseline back. The runner writes both to the
ledger first (:mod:`.ledger`), then applies. Register new faults with ``@FAULTS.register``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from rlsguard.errors import FaultError
from rlsguard.gameday.registry import Registry
from rlsguard.policy.snapshot import Snapshot
from rlsguard.workspace.rollback import create_policy, drop_policy, grantee_sql, ident, qualified

JWT_SECRET_SETTING = "app.settings.jwt_secret"  # where Supabase's database kept the JWT secret


@dataclass(frozen=True)
class FaultContext:
    """What a fault may read to plan itself."""

    baseline: Snapshot
    dbname: str
    project_root: Path
    migration_versions: tuple[str, ...] = ()
    db_settings: dict[str, str] = field(default_factory=dict)  # ALTER DATABASE ... SET values
    runtime: Any = None  # gameday.rig.Runtime: the live target, app and server (process faults)


@dataclass
class FaultPlan:
    """What to apply and how to undo it; stored in the ledger before it is applied."""

    summary: str
    apply: list[str] = field(default_factory=list)
    revert: list[str] = field(default_factory=list)
    migration: dict[str, str] | None = None  # {version, name, text}: applied as `db push` would
    objects: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)  # database settings the fault changes
    # Process-level faults (held sessions, a killed server): applied by ``inject`` (it returns
    # what to journal, ``processes`` among it), undone in-process by ``release`` (given the
    # runner's admin connection) and, when the runner is gone, by ``revert``.
    inject: Callable[[], dict[str, Any]] | None = None
    # The stage a fault needs (rows a production table would have), set after the undo is
    # in the ledger and before the steady state is measured: what ``prepare`` does is not
    # the fault, and the detectors compare with the steady state on that stage.
    prepare: Callable[[], dict[str, Any]] | None = None
    release: Callable[[Any], dict[str, Any]] | None = None
    disconnects: bool = False  # the fault takes the server away: mark the ledger first


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fault:
    """One kind of fault; subclasses set ``Params`` and implement :meth:`plan`."""

    Params: ClassVar[type[_Params]] = _Params
    destructive: ClassVar[bool] = True
    description: ClassVar[str] = ""

    def plan(self, params: Any, ctx: FaultContext) -> FaultPlan:
        raise FaultError(f"{type(self).__name__} does not implement plan()")


FAULTS: Registry[type[Fault]] = Registry("fault")


def _table(ctx: FaultContext, table: str) -> dict[str, Any]:
    tables = ctx.baseline.doc.get("tables", {})
    if table not in tables:
        raise FaultError(f"table {table!r} is not in the approved snapshot; name a table it has")
    return tables[table]


def _policy(ctx: FaultContext, table: str, policy: str) -> dict[str, Any]:
    policies = _table(ctx, table).get("policies", {})
    if policy not in policies:
        known = ", ".join(sorted(policies)) or "none"
        raise FaultError(f"{table} has no policy {policy!r} in the snapshot (it has: {known})")
    return policies[policy]


class TablePolicy(_Params):
    table: str = Field(description="schema.table")
    policy: str


@FAULTS.register("drop_policy")
class DropPolicy(Fault):
    """A migration (or a hand) dropped a policy: its rows silently vanish for everyone."""

    Params = TablePolicy

    def plan(self, params: TablePolicy, ctx: FaultContext) -> FaultPlan:
        before = _policy(ctx, params.table, params.policy)
        return FaultPlan(
            f"dropped policy {params.policy} on {params.table}",
            apply=[f"DROP POLICY {ident(params.policy)} ON {qualified(params.table)};"],
            revert=[
                drop_policy(params.table, params.policy),
                create_policy(params.table, params.policy, before),
            ],
            objects=[f"{params.table}.{params.policy}"],
        )


class ReplaceParams(TablePolicy):
    using: str = Field(description="The new USING expression, e.g. 'false' or 'true'.")


@FAULTS.register("replace_policy")
class ReplacePolicy(Fault):
    """The policy re-created with another USING: ``false`` denies silently, ``true`` leaks."""

    Params = ReplaceParams

    def plan(self, params: ReplaceParams, ctx: FaultContext) -> FaultPlan:
        before = _policy(ctx, params.table, params.policy)
        after = {**before, "using": params.using}
        return FaultPlan(
            f"policy {params.policy} on {params.table} replaced with USING ({params.using})",
            apply=[
                drop_policy(params.table, params.policy),
                create_policy(params.table, params.policy, after),
            ],
            revert=[
                drop_policy(params.table, params.policy),
                create_policy(params.table, params.policy, before),
            ],
            objects=[f"{params.table}.{params.policy}"],
        )


class TableParams(_Params):
    table: str


@FAULTS.register("disable_rls")
class DisableRls(Fault):
    """``ALTER TABLE ... DISABLE ROW LEVEL SECURITY``: policies stay, nothing enforces them."""

    Params = TableParams

    def plan(self, params: TableParams, ctx: FaultContext) -> FaultPlan:
        if not _table(ctx, params.table).get("rls"):
            raise FaultError(f"{params.table} has RLS disabled already in the snapshot")
        t = qualified(params.table)
        return FaultPlan(
            f"row level security disabled on {params.table}",
            apply=[f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;"],
            revert=[f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;"],
            objects=[params.table],
        )


class RevokeParams(_Params):
    table: str
    privilege: str = Field(default="SELECT", pattern="^(SELECT|INSERT|UPDATE|DELETE)$")
    role: str = "authenticated"


@FAULTS.register("revoke_grant")
class RevokeGrant(Fault):
    """A privilege revoked from an API role: every request gets 42501 permission denied."""

    Params = RevokeParams

    def plan(self, params: RevokeParams, ctx: FaultContext) -> FaultPlan:
        grants = _table(ctx, params.table).get("grants", {}).get(params.role, [])
        held = [g for g in grants if g.split(" ")[0] == params.privilege]
        if not held:
            raise FaultError(
                f"{params.role} holds no {params.privilege} on {params.table} in the snapshot"
            )
        t, who = qualified(params.table), grantee_sql(params.role)
        option = " WITH GRANT OPTION" if "WITH GRANT OPTION" in held[0] else ""
        return FaultPlan(
            f"{params.privilege} on {params.table} revoked from {params.role}",
            apply=[f"REVOKE {params.privilege} ON {t} FROM {who};"],
            revert=[f"GRANT {params.privilege} ON {t} TO {who}{option};"],
            objects=[params.table],
        )


class MigrationParams(_Params):
    file: str = Field(description="A migration file, relative to the project root.")


@FAULTS.register("migration")
class BadMigration(Fault):
    """A known-bad migration applied the way ``supabase db push`` applies one.

    Its undo is not knowable in advance: the revert restores the baseline snapshot (the
    runner's generic restore) and removes the history row the push recorded.
    """

    Params = MigrationParams

    def plan(self, params: MigrationParams, ctx: FaultContext) -> FaultPlan:
        path = ctx.project_root / params.file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FaultError(f"cannot read the migration {params.file}: {exc}") from None
        version, _, rest = path.stem.partition("_")
        if not version.isdigit():
            raise FaultError(f"{params.file}: not a migration name (YYYYMMDDHHMMSS_name.sql)")
        return FaultPlan(
            f"migration {path.name} applied (as `supabase db push`)",
            migration={"version": version, "name": rest, "text": text},
            revert=[
                f"DELETE FROM supabase_migrations.schema_migrations WHERE version = '{version}';"
            ],
            objects=[path.name],
        )


class SecretParams(_Params):
    secret: str | None = Field(
        default=None, description="The rotated secret (default: a new random one)."
    )


@FAULTS.register("rotate_jwt_secret")
class RotateJwtSecret(Fault):
    """The JWT secret rotated under the clients: every token they hold is rejected."""

    Params = SecretParams

    def plan(self, params: SecretParams, ctx: FaultContext) -> FaultPlan:
        secret = params.secret or secrets.token_urlsafe(48)
        db = ident(ctx.dbname)
        old = ctx.db_settings.get(JWT_SECRET_SETTING)
        if old is None:
            revert = f"ALTER DATABASE {db} RESET {JWT_SECRET_SETTING};"
        else:
            revert = f"ALTER DATABASE {db} SET {JWT_SECRET_SETTING} = " + _literal(old) + ";"
        return FaultPlan(
            f"JWT secret of {ctx.dbname} rotated ({JWT_SECRET_SETTING})",
            apply=[f"ALTER DATABASE {db} SET {JWT_SECRET_SETTING} = {_literal(secret)};"],
            revert=[revert],
            objects=[ctx.dbname],
            settings=[JWT_SECRET_SETTING],
        )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
