"""The words every part of rlsguard shares, defined once.

Checks, the gate, the CLI and reports all speak of API roles, grades of a change,
finding levels and the two kinds of ``42501``; each is spelled here and imported
everywhere else, so a new word cannot drift between two copies.
"""

from __future__ import annotations

from typing import Literal

ApiRole = Literal["anon", "authenticated", "service_role"]
#: The roles a Data API request runs as (PostgREST switches to one of them).
API_ROLES: tuple[ApiRole, ...] = ("anon", "authenticated", "service_role")

#: What a change does to who can reach what.
Grade = Literal["widens", "narrows", "neutral"]

#: How bad a lint or probe finding is.
Level = Literal["error", "warn", "info"]
LEVELS: tuple[Level, ...] = ("error", "warn", "info")

#: ``--fail-on`` of lint, probe and the gate: the lowest level that fails the run.
FailOn = Literal["error", "warn", "info", "none"]

#: ``--fail-on`` of ``rlsguard diff``: which changes fail it.
DiffFailOn = Literal["none", "widens", "any"]

#: The two kinds of ``42501``: a policy said no, or a grant is missing.
Denial = Literal["rls", "grant"]
INSUFFICIENT_PRIVILEGE = "42501"
RLS_VIOLATION = "new row violates row-level security policy"


def classify_denial(sqlstate: str | None, message: str | None) -> Denial | None:
    """``"rls"`` (WITH CHECK / policy), ``"grant"`` (privilege) or None (not a 42501)."""
    if sqlstate != INSUFFICIENT_PRIVILEGE:
        return None
    return "rls" if (message or "").startswith(RLS_VIOLATION) else "grant"


def quote_ident(name: str, *, always: bool = True) -> str:
    """A SQL identifier; ``always=False`` quotes only when Postgres needs it (as pg_dump does).

    Always quoting keeps catalog names exact; the minimal form reads like hand-written
    SQL (rollback scripts, search paths).
    """
    if not always:
        from pglast.visitors import maybe_double_quote_name  # pglast is slow to import

        return str(maybe_double_quote_name(name))
    return '"' + name.replace('"', '""') + '"'
