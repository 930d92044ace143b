"""Write a migration that puts the security surface back to a known-good snapshot, and prove it.

The runbook's remediation is a hand-written ``$(date +%s)_rollback_rls.sql`` "from git
history". :func:`generate_rollback` derives it instead, from the difference between the head
database and the approved snapshot:

- policies that should not exist are dropped; missing or changed ones are re-created from
  the snapshot (``DROP POLICY IF EXISTS`` then ``CREATE POLICY``, so the file is idempotent);
- RLS enabled/forced flags, table, column, view, schema and function grants, default
  privileges, SECURITY DEFINER/INVOKER, pinned ``search_path``, view options, owners and
  API role attributes are set back with ``ALTER``/``GRANT``/``REVOKE``;
- what a migration cannot restore is explained in the file's header instead of emitted as
  SQL that would fail: a dropped table, view or function, a changed function body, an
  ``[api] schemas`` change in ``config.toml``.

Every unit of SQL is first tried on its own, as a migration, against the head database; a
unit that fails (a policy that reads a dropped column, say) becomes an explanation with
PostgreSQL's message. The finished file is then applied (and once more, to prove it
idempotent) and the result is compared with the snapshot. All of it happens in transactions
that are rolled back (:mod:`rlsguard.workspace.trial`): the head database is left as it was.

File name: the Supabase CLI names migrations ``YYYYMMDDHHMMSS_name.sql`` in UTC and applies
them in file-name order; ``supabase db push`` refuses a local migration that sorts before the
last one already applied ("Found local migration files to be inserted before the last
migration on remote database"). The runbook's ``$(date +%s)`` prefix is a 10-digit Unix time
such as ``1764000000``, which sorts *before* every 14-digit migration. The rollback is named
with the current UTC time, or one second after the newest migration when that is later.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pglast.visitors import maybe_double_quote_name

from rlsguard.errors import RlsguardError
from rlsguard.harness.engine import Engine
from rlsguard.policy.diff import PolicyDiff, diff_snapshots
from rlsguard.policy.snapshot import Grants, Snapshot
from rlsguard.supabase.errors import MigrationError
from rlsguard.workspace.build import Workspace, load_project
from rlsguard.workspace.sources import display_path
from rlsguard.workspace.trial import as_migration, trial

ROLLBACK_NAME = "rollback_rls"
_OBJECT_WORDS = {
    "tables": "TABLES",
    "sequences": "SEQUENCES",
    "functions": "FUNCTIONS",
    "types": "TYPES",
    "schemas": "SCHEMAS",
}


# -- SQL text helpers -----------------------------------------------------------------------


def ident(name: str) -> str:
    return str(maybe_double_quote_name(name))


def qualified(name: str) -> str:
    """``schema.name`` from a snapshot key, each part quoted when it must be."""
    schema, _, rest = name.partition(".")
    return f"{ident(schema)}.{ident(rest)}" if rest else ident(schema)


def function_ref(signature: str) -> str:
    """``schema.name(args)`` from a snapshot key, schema and name quoted when they must be."""
    head, paren, args = signature.partition("(")
    return f"{qualified(head)}{paren}{args}"


def grantee_sql(grantee: str) -> str:
    return "PUBLIC" if grantee in ("PUBLIC", "public") else ident(grantee)


def _split(privileges: Iterable[str]) -> dict[str, bool]:
    """``["SELECT WITH GRANT OPTION", "INSERT"]`` -> ``{"SELECT": True, "INSERT": False}``."""
    out: dict[str, bool] = {}
    for item in privileges:
        name, option, _ = item.partition(" WITH GRANT OPTION")
        out[name] = bool(option) or out.get(name, False)
    return out


def grant_statements(
    on: str,
    target: Grants,
    head: Grants,
    *,
    column: str | None = None,
    prefix: str = "",
) -> list[str]:
    """GRANT/REVOKE statements turning ``head``'s grants on ``on`` into ``target``'s."""
    statements = []
    for grantee in sorted(set(target) | set(head)):
        want = _split(target.get(grantee, ()))
        have = _split(head.get(grantee, ()))
        who = grantee_sql(grantee)

        def privs(names: Iterable[str]) -> str:
            names = sorted(names)
            if column is not None:
                return ", ".join(f"{n} ({ident(column)})" for n in names)
            return ", ".join(names)

        revoke = [p for p in have if p not in want]
        drop_option = [p for p in have if p in want and have[p] and not want[p]]
        grant = [p for p in want if p not in have and not want[p]]
        grant_option = [p for p in want if want[p] and not have.get(p, False)]
        if revoke:
            statements.append(f"{prefix}REVOKE {privs(revoke)} ON {on} FROM {who};")
        if drop_option:
            statements.append(
                f"{prefix}REVOKE GRANT OPTION FOR {privs(drop_option)} ON {on} FROM {who};"
            )
        if grant:
            statements.append(f"{prefix}GRANT {privs(grant)} ON {on} TO {who};")
        if grant_option:
            statements.append(
                f"{prefix}GRANT {privs(grant_option)} ON {on} TO {who} WITH GRANT OPTION;"
            )
    return statements


def create_policy(table: str, name: str, policy: Mapping[str, Any]) -> str:
    roles = ", ".join(grantee_sql(r) for r in policy["roles"]) or "PUBLIC"
    parts = [
        f"CREATE POLICY {ident(name)} ON {qualified(table)}",
        f"  AS {policy['mode'].upper()} FOR {policy['command']} TO {roles}",
    ]
    if policy["using"] is not None:
        parts.append(f"  USING ({policy['using']})")
    if policy["with_check"] is not None:
        parts.append(f"  WITH CHECK ({policy['with_check']})")
    return "\n".join(parts) + ";"


def drop_policy(table: str, name: str) -> str:
    return f"DROP POLICY IF EXISTS {ident(name)} ON {qualified(table)};"


def search_path_value(value: str) -> str:
    """A ``proconfig`` search_path value as SQL: ``""`` (empty) becomes ``''``."""
    return "''" if value.strip() in ('""', "''", "") else value


def _view_options(view: Mapping[str, Any]) -> str:
    if view["kind"] != "view":
        return ""
    invoker = "true" if view["security_invoker"] else "false"
    barrier = "true" if view["security_barrier"] else "false"
    return f" WITH (security_invoker = {invoker}, security_barrier = {barrier})"


# -- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """Statements that restore one aspect of one object; tried and kept or dropped together."""

    object: str
    action: str
    statements: tuple[str, ...]

    @property
    def sql(self) -> str:
        return "\n".join(self.statements)


@dataclass(frozen=True)
class Skipped:
    """Something the rollback does not restore, and why."""

    object: str
    reason: str
    kind: Literal["cannot", "left alone"] = "cannot"


@dataclass
class Plan:
    units: list[Unit] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def unit(self, obj: str, action: str, statements: Iterable[str]) -> None:
        statements = tuple(statements)
        if statements:
            self.units.append(Unit(obj, action, statements))

    def cannot(self, obj: str, reason: str) -> None:
        self.skipped.append(Skipped(obj, reason, "cannot"))

    def leave(self, obj: str, reason: str) -> None:
        self.skipped.append(Skipped(obj, reason, "left alone"))


def plan_rollback(head: Snapshot, target: Snapshot) -> Plan:
    """What it takes to turn ``head``'s surface into ``target``'s (no database needed)."""
    plan = Plan()
    t, h = target.doc, head.doc
    _plan_exposed(plan, t, h)
    _plan_roles(plan, t, h)
    _plan_schemas(plan, t, h)
    _plan_tables(plan, t, h)
    _plan_views(plan, t, h)
    _plan_functions(plan, t, h)
    _plan_default_privileges(plan, t, h)
    return plan


def _plan_exposed(plan: Plan, t: Mapping[str, Any], h: Mapping[str, Any]) -> None:
    if sorted(t["exposed_schemas"]) != sorted(h["exposed_schemas"]):
        plan.cannot(
            "exposed_schemas",
            "the Data API serves "
            f"{', '.join(h['exposed_schemas'])} instead of {', '.join(t['exposed_schemas'])}; "
            "that is config.toml, not SQL: set [api] schemas back in supabase/config.toml "
            "(and in the hosted project's API settings)",
        )


def _plan_roles(plan: Plan, t: Mapping[str, Any], h: Mapping[str, Any]) -> None:
    for name in sorted(set(t["roles"]) & set(h["roles"])):
        want, have = t["roles"][name], h["roles"][name]
        statements = []
        for flag, on, off in (
            ("bypassrls", "BYPASSRLS", "NOBYPASSRLS"),
            ("superuser", "SUPERUSER", "NOSUPERUSER"),
        ):
            if want[flag] != have[flag]:
                statements.append(f"ALTER ROLE {ident(name)} {on if want[flag] else off};")
        for role in sorted(set(have["member_of"]) - set(want["member_of"])):
            statements.append(f"REVOKE {ident(role)} FROM {ident(name)};")
        for role in sorted(set(want["member_of"]) - set(have["member_of"])):
            statements.append(f"GRANT {ident(role)} TO {ident(name)};")
        plan.unit(name, "restore the role's attributes and memberships", statements)


def _plan_schemas(plan: Plan, t: Mapping[str, Any], h: Mapping[str, Any]) -> None:
    for name in sorted(t["schemas"]):
        if name not in h["schemas"]:
            plan.cannot(name, "the schema was dropped; a rollback does not recreate schemas")
            continue
        want, have = t["schemas"][name], h["schemas"][name]
        if want["owner"] != have["owner"]:
            plan.unit(
                name,
                f"give schema {name} back to {want['owner']}",
                [f"ALTER SCHEMA {ident(name)} OWNER TO {ident(want['owner'])};"],
            )
        plan.unit(
            name,
            "restore schema privileges",
            grant_statements(f"SCHEMA {ident(name)}", want["grants"], have["grants"]),
        )
    for name in sorted(set(h["schemas"]) - set(t["schemas"])):
        plan.leave(name, "schema created after the snapshot")


def _plan_tables(plan: Plan, t: Mapping[str, Any], h: Mapping[str, Any]) -> None:
    for name in sorted(t["tables"]):
        want = t["tables"][name]
        if name not in h["tables"]:
            plan.cannot(
                name,
                "the table no longer exists (dropped or renamed after the snapshot). A "
                "migration cannot bring back a table and its rows: revert the migration that "
                "dropped it or restore it from a backup; its "
                f"{len(want['policies'])} policies and its grants are not restored either",
            )
            continue
        have = h["tables"][name]
        if want["kind"] != have["kind"]:
            plan.cannot(name, f"it is now a {have['kind']}, not a {want['kind']}")
        if want["rls"] != have["rls"]:
            verb = "ENABLE" if want["rls"] else "DISABLE"
            plan.unit(
                name,
                f"{verb.lower()} row level security",
                [f"ALTER TABLE {qualified(name)} {verb} ROW LEVEL SECURITY;"],
            )
        if want["force_rls"] != have["force_rls"]:
            verb = "FORCE" if want["force_rls"] else "NO FORCE"
            plan.unit(
                name,
                f"{verb.lower()} row level security",
                [f"ALTER TABLE {qualified(name)} {verb} ROW LEVEL SECURITY;"],
            )
        if want["owner"] != have["owner"]:
            plan.unit(
                name,
                f"give the table back to {want['owner']}",
                [f"ALTER TABLE {qualified(name)} OWNER TO {ident(want['owner'])};"],
            )
        _plan_relation_grants(plan, name, "table", want, have)
        for policy in sorted(set(have["policies"]) - set(want["policies"])):
            plan.unit(name, f"drop policy {policy}", [drop_policy(name, policy)])
        for policy in sorted(want["policies"]):
            body = want["policies"][policy]
            if have["policies"].get(policy) == body:
                continue
            verb = "re-create" if policy in have["policies"] else "create"
            plan.unit(
                name,
                f"{verb} policy {policy}",
                [drop_policy(name, policy), create_policy(name, policy, body)],
            )
    for name in sorted(set(h["tables"]) - set(t["tables"])):
        plan.leave(name, "table created after the snapshot; review its RLS and grants")


def _plan_relation_grants(
    plan: Plan, name: str, what: str, want: Mapping[str, Any], have: Mapping[str, Any]
) -> None:
    """Table (or view) grants first, then column grants.

    A table-level REVOKE also revokes that privilege on every column, so the column grants
    are planned against what the table-level statements leave, not against the head.
    """
    plan.unit(
        name,
        f"restore {what} privileges",
        grant_statements(f"TABLE {qualified(name)}", want["grants"], have["grants"]),
    )
    revoked: dict[str, dict[str, bool]] = {}  # grantee -> privilege -> only the grant option
    for grantee in set(have["grants"]):
        wanted = _split(want["grants"].get(grantee, ()))
        for privilege, grantable in _split(have["grants"][grantee]).items():
            if privilege not in wanted:
                revoked.setdefault(grantee, {})[privilege] = False
            elif grantable and not wanted[privilege]:
                revoked.setdefault(grantee, {})[privilege] = True
    for column in sorted(set(want["column_grants"]) | set(have["column_grants"])):
        left: Grants = {}
        for grantee, privileges in have["column_grants"].get(column, {}).items():
            kept = []
            for privilege, grantable in _split(privileges).items():
                option_only = revoked.get(grantee, {}).get(privilege)
                if option_only is False:
                    continue  # gone with the table-level REVOKE
                if grantable and option_only is None:
                    kept.append(f"{privilege} WITH GRANT OPTION")
                else:
                    kept.append(privilege)
            if kept:
                left[grantee] = kept
        plan.unit(
            f"{name}.{column}",
            "restore column privileges",
            grant_statements(
                f"TABLE {qualified(name)}",
                want["column_grants"].get(column, {}),
                left,
                column=column,
            ),
        )


def _plan_views(plan: Plan, t: Mapping[str, Any], h: Mapping[str, Any]) -> None:
    for name in sorted(t["views"]):
        want = t["views"][name]
        have = h["views"].get(name)
        kind = "MATERIALIZED VIEW" if want["kind"] == "materialized view" else "VIEW"
        if have is None:
            if want["kind"] != "view":
                plan.cannot(name, f"the {want['kind']} was dropped; restore it by hand")
                continue
            plan.unit(
                name,
                "re-create the dropped view",
                [
                    f"CREATE VIEW {qualified(name)}{_view_options(want)} AS {want['definition']};",
                    *grant_statements(f"TABLE {qualified(name)}", want["grants"], {}),
                ],
            )
            continue
        if want["definition"] != have["definition"]:
            if want["kind"] == "view":
                plan.unit(
                    name,
                    "restore the view's query",
                    [
                        f"CREATE OR REPLACE VIEW {qualified(name)}{_view_options(want)} AS "
                        f"{want['definition']};"
                    ],
                )
            else:
                plan.cannot(name, f"the query of the {want['kind']} changed; restore it by hand")
        elif (
            want["security_invoker"] != have["security_invoker"]
            or want["security_barrier"] != have["security_barrier"]
        ):
            invoker = "true" if want["security_invoker"] else "false"
            barrier = "true" if want["security_barrier"] else "false"
            plan.unit(
                name,
                "restore security_invoker and security_barrier",
                [
                    f"ALTER VIEW {qualified(name)} SET (security_invoker = {invoker}, "
                    f"security_barrier = {barrier});"
                ],
            )
        if want["owner"] != have["owner"]:
            plan.unit(
                name,
                f"give the view back to {want['owner']}",
                [f"ALTER {kind} {qualified(name)} OWNER TO {ident(want['owner'])};"],
            )
        _plan_relation_grants(plan, name, "view", want, have)
    for name in sorted(set(h["views"]) - set(t["views"])):
        plan.leave(name, "view created after the snapshot; review who may select from it")


def _plan_functions(plan: Plan, t: Mapping[str, Any], h: Mapping[str, Any]) -> None:
    for signature in sorted(t["functions"]):
        want = t["functions"][signature]
        have = h["functions"].get(signature)
        if have is None:
            plan.cannot(
                signature,
                "the function was dropped (or its arguments changed); restore its CREATE "
                "FUNCTION from the migration that defined it",
            )
            continue
        ref = function_ref(signature)
        routine = "PROCEDURE" if want.get("kind") == "procedure" else "FUNCTION"
        for key in ("returns", "language", "kind"):
            if want.get(key) != have.get(key):
                plan.cannot(
                    signature,
                    f"its {key} changed from {want.get(key)} to {have.get(key)}; restore its "
                    "CREATE FUNCTION from the migration that defined it",
                )
        if want["security"] == "definer" and want.get("body") != have.get("body"):
            plan.cannot(
                signature,
                "its body changed since the snapshot and rlsguard does not rewrite function "
                "bodies: re-run its approved CREATE OR REPLACE FUNCTION (`rlsguard blame` "
                "names the migration that changed it)",
            )
        statements = []
        if want["security"] != have["security"]:
            statements.append(f"ALTER {routine} {ref} SECURITY {want['security'].upper()};")
        if want["search_path"] != have["search_path"]:
            if want["search_path"] is None:
                statements.append(f"ALTER {routine} {ref} RESET search_path;")
            else:
                statements.append(
                    f"ALTER {routine} {ref} SET search_path = "
                    f"{search_path_value(want['search_path'])};"
                )
        if want["owner"] != have["owner"]:
            statements.append(f"ALTER {routine} {ref} OWNER TO {ident(want['owner'])};")
        plan.unit(signature, "restore how it runs (security, search_path, owner)", statements)
        want_exec = {g: ["EXECUTE"] for g in want["execute"]}
        have_exec = {g: ["EXECUTE"] for g in have["execute"]}
        plan.unit(
            signature,
            "restore who may execute it",
            grant_statements(f"{routine} {ref}", want_exec, have_exec),
        )
    for signature in sorted(set(h["functions"]) - set(t["functions"])):
        if h["functions"][signature]["security"] == "definer":
            plan.leave(signature, "SECURITY DEFINER function created after the snapshot")


def _plan_default_privileges(plan: Plan, t: Mapping[str, Any], h: Mapping[str, Any]) -> None:
    for key in sorted(set(t["default_privileges"]) | set(h["default_privileges"])):
        entry = t["default_privileges"].get(key) or h["default_privileges"][key]
        schema = f" IN SCHEMA {ident(entry['schema'])}" if entry["schema"] else ""
        prefix = f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(entry['for_role'])}{schema} "
        plan.unit(
            f"default privileges {key}",
            "restore default privileges",
            grant_statements(
                _OBJECT_WORDS.get(entry["object"], entry["object"].upper()),
                t["default_privileges"].get(key, {}).get("grants", {}),
                h["default_privileges"].get(key, {}).get("grants", {}),
                prefix=prefix,
            ),
        )


# -- naming ---------------------------------------------------------------------------------


def rollback_version(versions: Iterable[str], now: datetime | None = None) -> str:
    """A ``YYYYMMDDHHMMSS`` version (UTC) sorting after every version in ``versions``."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    candidate = stamp.strftime("%Y%m%d%H%M%S")
    latest = max(versions, key=lambda v: (len(v), v), default=None)
    if latest is None or (len(candidate), candidate) > (len(latest), latest):
        return candidate
    try:
        after = datetime.strptime(latest, "%Y%m%d%H%M%S") + timedelta(seconds=1)
        return after.strftime("%Y%m%d%H%M%S")
    except ValueError:
        return str(int(latest) + 1).zfill(len(latest))


def rollback_filename(versions: Iterable[str], now: datetime | None = None) -> str:
    return f"{rollback_version(versions, now)}_{ROLLBACK_NAME}.sql"


# -- generation and verification ------------------------------------------------------------


@dataclass
class Rollback:
    """A generated rollback migration and what verifying it showed."""

    filename: str
    target: str
    head: str
    units: list[Unit]
    skipped: list[Skipped]
    residual: PolicyDiff  # target vs head + rollback (empty: fully restored)
    idempotent: bool
    seconds: float = 0.0

    @property
    def needed(self) -> bool:
        """False when the head already matches the target (no file is needed)."""
        return bool(self.units) or bool(self.skipped) or bool(self.residual)

    @property
    def restored(self) -> bool:
        """Head + this file gives exactly the target surface."""
        return not self.residual.changes

    @property
    def unexplained(self) -> list[str]:
        """Residual differences that no skipped item accounts for (should be empty)."""
        explained = {s.object for s in self.skipped}
        out = []
        for change in self.residual.changes:
            keys = {change.object, change.path[0]}
            if keys & explained or any(e.startswith(f"{change.object}.") for e in explained):
                continue
            out.append(change.message)
        return out

    @property
    def sql(self) -> str:
        return render_rollback(self)

    def write(self, destination: Path) -> Path:
        """Write into ``destination`` (a directory gets :attr:`filename`)."""
        path = destination / self.filename if destination.is_dir() else destination
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.sql, encoding="utf-8")
        return path

    def as_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "target": self.target,
            "head": self.head,
            "restored": self.restored,
            "idempotent": self.idempotent,
            "units": [
                {"object": u.object, "action": u.action, "sql": list(u.statements)}
                for u in self.units
            ],
            "skipped": [
                {"object": s.object, "kind": s.kind, "reason": s.reason} for s in self.skipped
            ],
            "residual": self.residual.as_dict()["changes"],
            "sql": self.sql,
        }


def _comment(text: str, width: int = 96) -> list[str]:
    words = text.split()
    lines, line = [], "--  "
    for word in words:
        if len(line) + len(word) + 1 > width and line.strip() != "--":
            lines.append(line.rstrip())
            line = "--    "
        line += word + " "
    lines.append(line.rstrip())
    return lines


def render_rollback(rollback: Rollback) -> str:
    lines = [
        f"-- Restore the security surface of {rollback.target}.",
        f"-- Generated by `rlsguard rollback` for {rollback.head}.",
        "--",
    ]
    lines.append(
        "-- Verified against the head database (in a transaction that was rolled back): with"
    )
    if rollback.restored:
        lines.append("-- this file applied, the surface equals the snapshot;")
    else:
        lines.append(
            "-- this file applied, the surface equals the snapshot except for what is listed under"
        )
        lines.append("-- 'Not restored' below;")
    lines.append(
        "-- applying it a second time changes nothing."
        if rollback.idempotent
        else "-- WARNING: applying it a second time changed the surface again."
    )
    if rollback.units:
        lines += ["--", "-- Restores:"]
        lines += [f"--   {u.object}: {u.action}" for u in rollback.units]
    cannot = [s for s in rollback.skipped if s.kind == "cannot"]
    left = [s for s in rollback.skipped if s.kind == "left alone"]
    if cannot:
        lines += ["--", "-- Not restored (needs a person):"]
        for item in cannot:
            lines += _comment(f"{item.object}: {item.reason}.")
    if left:
        lines += ["--", "-- Left alone (not in the snapshot):"]
        for item in left:
            lines += _comment(f"{item.object}: {item.reason}.")
    lines += [
        "--",
        "-- The name follows the Supabase CLI (UTC YYYYMMDDHHMMSS) and sorts after every existing",
        "-- migration, so `supabase db push` applies it; a `$(date +%s)_...` name sorts before",
        "-- them and `supabase db push` refuses it.",
        "",
    ]
    for unit in rollback.units:
        lines.append(f"-- {unit.object}: {unit.action}")
        lines.extend(unit.statements)
        lines.append("")
    return "\n".join(lines)


def generate_rollback(
    workspace: Workspace,
    supabase_dir: Path,
    target: Snapshot,
    *,
    now: datetime | None = None,
) -> Rollback:
    """A verified rollback of ``supabase_dir``'s surface to ``target`` (see module docs)."""
    project = load_project(Path(supabase_dir).resolve())
    engine = workspace.engine(project.supabase_dir, "full", project)
    return rollback_database(
        engine,
        engine.template_db,
        target,
        exposed_schemas=project.config.api_schemas,
        versions=[m.version for m in project.migrations],
        head_label=display_path(supabase_dir),
        now=now,
    )


def rollback_database(
    engine: Engine,
    dbname: str,
    target: Snapshot,
    *,
    exposed_schemas: Iterable[str],
    versions: Iterable[str] = (),
    head_label: str = "head",
    now: datetime | None = None,
) -> Rollback:
    """A verified rollback of database ``dbname`` (in ``engine``'s cluster) to ``target``.

    ``dbname`` is left as it was: trials and verification run in transactions that are
    rolled back (:mod:`rlsguard.workspace.trial`), so not even cluster-wide role changes stay.
    ``versions`` are the migration versions the file name must sort after.
    """
    started = time.perf_counter()
    exposed = tuple(exposed_schemas)
    with trial(engine, dbname, exposed) as attempt:
        head = attempt.snapshot(head_label)
        plan = plan_rollback(head, target)
        version = rollback_version(versions, now)
        kept: list[Unit] = []
        for index, unit in enumerate(plan.units):
            error = attempt.attempt(as_migration(unit.sql, f"{version}_{index:04d}", "unit"))
            if error is None:
                kept.append(unit)
            else:
                plan.cannot(unit.object, f"{unit.action} failed: {error.message}")
    rollback = Rollback(
        filename=f"{version}_{ROLLBACK_NAME}.sql",
        target=target.label or "the snapshot",
        head=head.label,
        units=kept,
        skipped=plan.skipped,
        residual=PolicyDiff(target.label, head.label),
        idempotent=True,
    )
    text = rollback.sql
    with trial(engine, dbname, exposed) as verify:
        try:
            verify.apply(as_migration(text, version, ROLLBACK_NAME))
            once = verify.snapshot("head + rollback")
            verify.apply(as_migration(text, f"{version}_again", ROLLBACK_NAME))
            twice = verify.snapshot("head + rollback, twice")
        except MigrationError as exc:  # every unit passed alone: this is rlsguard's bug
            raise RlsguardError(f"the generated rollback does not apply: {exc}") from exc
    rollback.residual = diff_snapshots(target, once)
    rollback.idempotent = once == twice
    rollback.seconds = time.perf_counter() - started
    return rollback
