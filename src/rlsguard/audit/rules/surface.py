"""Rules about what the Data API reaches: RLS flags, views, functions, exposed relations.

These are the catalog checks of Supabase's splinter linter (the Security Advisor), with the
same ids and levels, read from the typed catalog instead of SQL views. Where splinter looks
only at SELECT grants, these look at every DML privilege the client roles hold: a table
anon may only INSERT into is reachable too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rlsguard.audit.exprs import analyse_body
from rlsguard.audit.findings import Finding
from rlsguard.audit.plpgsql import function_writes
from rlsguard.audit.rules.base import CLIENT_ROLES, LintContext, rule, table_label
from rlsguard.catalog.surface import SUPABASE_SCHEMAS, Catalog

# Column names that hold credentials (any table) and personal data (splinter 0023's intent).
CREDENTIAL_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "otp",
        "totp",
        "salt",
        "cvv",
        "cvc",
        "pin",
    }
)
KEY_QUALIFIERS = frozenset(
    {"api", "private", "secret", "access", "signing", "encryption", "license", "service"}
)
PERSONAL_WORDS = frozenset(
    {
        "ssn",
        "iban",
        "passport",
        "dob",
        "birthdate",
        "email",
        "phone",
        "address",
        "tax",
        "salary",
        "diagnosis",
        "medical",
        "card",
    }
)


def column_words(name: str) -> list[str]:
    """``apiKey``, ``api_key``, ``API-KEY`` -> ``["api", "key"]``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def is_credential_column(name: str) -> bool:
    """Secrets: passwords, tokens, API/private keys, OTP seeds."""
    words = column_words(name)
    if any(w in CREDENTIAL_WORDS for w in words):
        return True
    return any(w == "key" and i > 0 and words[i - 1] in KEY_QUALIFIERS for i, w in enumerate(words))


# Words that mark a stored secret in a name, a type name or a comment.
SECRET_MARKS = frozenset({"encrypted", "hashed", "ciphertext", "hmac", "bcrypt", "argon2"})
_COMMENT_SECRET = re.compile(
    r"\b(secret|password|passphrase|credential|api[ _-]?key|private[ _-]?key|access[ _-]?token|"
    r"refresh[ _-]?token|token|hash(ed)? of|encrypted|do not expose|never expose)\b",
    re.I,
)


def credential_reason(name: str, type_name: str = "", comment: str | None = None) -> str | None:
    """Why a column looks like it holds a secret (its name, type or comment), or None.

    Names: ``password_hash``, ``api_key``, ``refresh_token``, ``encrypted_*``, ``*_hashed``.
    Types: a domain or type whose name says so (``vault_secret``). Comments: what the column
    holds, in words (``-- bcrypt hash of the PIN``).
    """
    words = column_words(name)
    if is_credential_column(name):
        return f"its name ({name})"
    if any(w in SECRET_MARKS for w in words):
        return f"its name ({name})"
    if words and words[-1] == "hash" and len(words) > 1 and words[-2] not in ("content", "file"):
        return f"its name ({name})"
    type_words = column_words(type_name.rsplit(".", 1)[-1])
    if any(w in CREDENTIAL_WORDS or w in SECRET_MARKS for w in type_words):
        return f"its type ({type_name})"
    if comment and (match := _COMMENT_SECRET.search(comment)):
        return f"its comment ({match.group(0)!r})"
    return None


def is_sensitive_column(name: str) -> bool:
    """Credentials, plus personal data (birth dates, national ids, contact details)."""
    words = column_words(name)
    if is_credential_column(name) or any(w in PERSONAL_WORDS for w in words):
        return True
    return "birth" in words or "_".join(words) in (
        "date_of_birth",
        "credit_card",
        "social_security",
    )


# -- RLS flags -------------------------------------------------------------------------------


@rule(
    "rls_disabled_in_public",
    level="error",
    category="security",
    title="RLS disabled on a table the API reaches",
    description="A table in an exposed schema that anon or authenticated may query has row level "
    "security off: every row is open to every client holding the privilege.",
    remediation="Enable row level security (`alter table ... enable row level security`) and add "
    "policies, or revoke the client roles' privileges.",
    origin="splinter 0013",
)
def rls_disabled_in_public(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if not table.exposed or table.rls_enabled:
            continue
        roles = ctx.reachable_by(table)
        if roles:
            privileges = sorted(
                ctx.client_privileges(table, roles[0]) & {"SELECT", "INSERT", "UPDATE", "DELETE"}
            )
            yield ctx.finding(
                table_label(table),
                f"RLS is disabled on {table_label(table)}, which {' and '.join(roles)} may "
                f"query ({', '.join(privileges) or 'column privileges'}): every row is "
                "readable/writable by them.",
                location=ctx.locator.rls(table.qualified),
                roles=roles,
            )


@rule(
    "policy_exists_rls_disabled",
    level="error",
    category="security",
    title="Policies exist but RLS is disabled",
    description="Policies are only applied while row level security is enabled. With RLS off "
    "they are ignored, yet pg_policies looks healthy.",
    remediation="Enable row level security on the table "
    "(`alter table ... enable row level security`).",
    origin="splinter 0007",
)
def policy_exists_rls_disabled(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if table.policies and not table.rls_enabled:
            names = ", ".join(p.name for p in table.policies)
            yield ctx.finding(
                table_label(table),
                f"{table_label(table)} has {len(table.policies)} policies ({names}) but row "
                "level security is disabled, so none of them applies.",
                location=ctx.locator.rls(table.qualified),
            )


@rule(
    "rls_enabled_no_policy",
    level="info",
    category="security",
    title="RLS enabled without any policy",
    description="Row level security with no policy denies every client silently (empty results, "
    "no error). Intended for backend-only tables; a mistake otherwise.",
    remediation="Add policies for the roles that should reach the table, or document that only "
    "the service role uses it.",
    origin="splinter 0008",
)
def rls_enabled_no_policy(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if table.schema in SUPABASE_SCHEMAS or not table.rls_enabled or table.policies:
            continue
        yield ctx.finding(
            table_label(table),
            f"{table_label(table)} has row level security enabled and no policy: every "
            "client request sees no rows and changes none.",
            location=ctx.locator.rls(table.qualified),
        )


@rule(
    "sensitive_columns_exposed",
    level="error",
    category="security",
    title="Sensitive columns in a table without RLS",
    description="A table the API reaches, without row level security, has columns whose names "
    "suggest credentials or personal data.",
    remediation="Enable row level security and restrict the rows, or move the columns out of "
    "the exposed schema.",
    origin="splinter 0023",
)
def sensitive_columns_exposed(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if not table.exposed or table.rls_enabled:
            continue
        roles = ctx.reachable_by(table, ("SELECT",))
        columns = [c.name for c in table.columns if is_sensitive_column(c.name)]
        if roles and columns:
            yield ctx.finding(
                table_label(table),
                f"{table_label(table)} has no row level security and {' and '.join(roles)} "
                f"may read its sensitive-looking columns {', '.join(columns)}.",
                location=ctx.locator.rls(table.qualified),
                columns=columns,
            )


# -- views and other relations ---------------------------------------------------------------


def _selectable_by(ctx: LintContext, relation: object) -> list[str]:
    return [r for r in CLIENT_ROLES if "SELECT" in ctx.client_privileges(relation, r)]


@rule(
    "security_definer_view",
    level="error",
    category="security",
    title="View runs with its owner's rights",
    description="A view without security_invoker runs as its owner; owned by postgres (which "
    "bypasses RLS) it shows every row of the tables it reads to whoever may select it.",
    remediation="Recreate the view `with (security_invoker = true)` (PostgreSQL 15+), or revoke "
    "select from anon and authenticated.",
    origin="splinter 0010",
)
def security_definer_view(ctx: LintContext) -> Iterator[Finding]:
    for view in ctx.catalog.views:
        if view.kind != "view" or not view.exposed or view.security_invoker:
            continue
        roles = _selectable_by(ctx, view)
        if roles:
            yield ctx.finding(
                view.qualified,
                f"view {view.qualified} runs as its owner {view.owner} (no security_invoker) "
                f"and {' and '.join(roles)} may select it: RLS of "
                f"{', '.join(view.reads) or 'the tables it reads'} is not applied to them.",
                location=ctx.locator.relation(view.qualified),
            )


@rule(
    "auth_users_exposed",
    level="error",
    category="security",
    title="auth.users exposed through a view",
    description="A view or materialized view in an exposed schema reads auth.users and clients "
    "may select it: emails, phone numbers and metadata of every user leak.",
    remediation="Drop the view or revoke select from anon and authenticated; expose only the "
    "profile columns you need through a security_invoker view on your own table.",
    origin="splinter 0002",
)
def auth_users_exposed(ctx: LintContext) -> Iterator[Finding]:
    users = ctx.catalog.table("auth.users")
    users_rls = users.rls_enabled if users else False
    for view in ctx.catalog.views:
        if not view.exposed or "auth.users" not in view.reads:
            continue
        roles = _selectable_by(ctx, view)
        leaks = view.kind == "materialized view" or not view.security_invoker or not users_rls
        if roles and leaks:
            yield ctx.finding(
                view.qualified,
                f"{view.kind} {view.qualified} reads auth.users and {' and '.join(roles)} may "
                "select it.",
                location=ctx.locator.relation(view.qualified),
            )


@rule(
    "materialized_view_in_api",
    level="warn",
    category="security",
    title="Materialized view selectable through the API",
    description="Materialized views have no row level security: every client that may select "
    "one reads all its rows.",
    remediation="Move it to a schema the API does not expose, or revoke select from anon and "
    "authenticated.",
    origin="splinter 0016",
)
def materialized_view_in_api(ctx: LintContext) -> Iterator[Finding]:
    for view in ctx.catalog.views:
        if (
            view.kind == "materialized view"
            and view.exposed
            and (roles := _selectable_by(ctx, view))
        ):
            yield ctx.finding(
                view.qualified,
                f"materialized view {view.qualified} is selectable by {' and '.join(roles)} "
                "and has no row level security.",
                location=ctx.locator.relation(view.qualified),
            )


@rule(
    "foreign_table_in_api",
    level="warn",
    category="security",
    title="Foreign table selectable through the API",
    description="Foreign tables do not enforce row level security: every client that may "
    "select one reads all the remote rows.",
    remediation="Move it to a schema the API does not expose, or revoke select from anon and "
    "authenticated.",
    origin="splinter 0017",
)
def foreign_table_in_api(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.catalog.tables:
        if (
            table.kind == "foreign table"
            and table.exposed
            and (roles := _selectable_by(ctx, table))
        ):
            yield ctx.finding(
                table_label(table),
                f"foreign table {table_label(table)} is selectable by {' and '.join(roles)}; "
                "row level security does not apply to it.",
                location=ctx.locator.relation(table.qualified),
            )


# -- functions ----------------------------------------------------------------------------


@rule(
    "function_search_path_mutable",
    level="warn",
    category="security",
    title="Function without a pinned search_path",
    description="A function that does not set search_path resolves unqualified names with the "
    "caller's path; for SECURITY DEFINER functions a caller can shadow tables or operators.",
    remediation="Add `set search_path = ''` to the function and qualify every name in its body.",
    origin="splinter 0011",
)
def function_search_path_mutable(ctx: LintContext) -> Iterator[Finding]:
    for function in ctx.catalog.functions:
        if function.schema in SUPABASE_SCHEMAS or function.search_path is not None:
            continue
        kind = "SECURITY DEFINER function" if function.security_definer else "function"
        yield ctx.finding(
            f"{function.schema}.{function.name}",
            f"{kind} {function.signature} does not pin its search_path.",
            location=ctx.locator.function(f"{function.schema}.{function.name}"),
            security_definer=function.security_definer,
        )


def _definer_functions(ctx: LintContext, role: str) -> Iterator[Finding]:
    for function in ctx.catalog.functions:
        if not (function.security_definer and function.exposed and role in function.executable_by):
            continue
        if function.result in ("trigger", "event_trigger"):
            continue  # not callable through the API
        name = f"{function.schema}.{function.name}"
        location = ctx.locator.grant(name) or ctx.locator.function(name)
        escalations = (
            function_writes(
                function.body_raw, function.language, function.identity_arguments
            ).escalations()
            if role == "anon"
            else []
        )
        if escalations:
            yield ctx.finding(
                name,
                f"SECURITY DEFINER function {function.signature} runs as {function.owner}, "
                f"anon may call it through the API (/rpc/{function.name}), and it "
                f"{', '.join(escalations)}: an anonymous caller can make themselves (or "
                "anyone) an admin.",
                location=location,
                level="error",
                remediation=f"`revoke execute on function {function.signature} from anon, "
                "public`; if signed-in users need it, check the caller's own role inside it "
                "before writing, or move it to a schema the API does not expose.",
                escalations=escalations,
            )
            continue
        if function.pre_request:
            continue  # PostgREST runs it as anon/authenticated before every request
        hidden = _rows_it_unhides(ctx, function.body_raw, function.language, function.result)
        if hidden:
            yield ctx.finding(
                name,
                f"SECURITY DEFINER function {function.signature} runs as {function.owner}, "
                f"{role} may call it through the API (/rpc/{function.name}), and it returns "
                f"data from {', '.join(hidden)}, whose SELECT policies show each user only "
                "their own rows, without ever asking who the caller is (no auth.uid() or "
                "auth.jwt() in its body): any caller gets rows RLS hides from them (another "
                "user's, by passing that user's id).",
                location=location,
                level="error",
                remediation=f"Make {function.signature} SECURITY INVOKER (RLS then applies), or "
                "filter by `(select auth.uid())` inside it instead of a caller-chosen id, or "
                f"`revoke execute on function {function.signature} from {role}, public`.",
                tables=hidden,
            )
            continue
        yield ctx.finding(
            name,
            f"SECURITY DEFINER function {function.signature} in an exposed schema runs as "
            f"{function.owner} and {role} may call it through the API (/rpc/{function.name}).",
            location=location,
        )


def _may_ask_for_the_caller(ctx: LintContext, names: frozenset[str]) -> bool:
    """Whether a called project function (at any depth) reads ``auth.*``, or cannot be read:
    a helper such as ``private.staff_class_ids()`` is how a definer function asks who calls."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for function in ctx.functions_by_name.get(name, ()):
            if function.schema in SUPABASE_SCHEMAS:
                continue
            facts = ctx.body(function)
            if not facts.parsed or facts.auth_calls:
                return True
            todo.extend(facts.functions)
    return False


def _rows_it_unhides(
    ctx: LintContext, body: str | None, language: str | None, result: str | None
) -> list[str]:
    """Owner-scoped RLS tables a definer function returns data from without consulting the
    caller: the ``get_profile(user_id uuid)`` leak. Predicates (boolean) and procedures
    (void) answer a yes/no or return nothing, so they are left to the plain warning."""
    if not body or not language or (result or "").lower() in ("boolean", "void", "trigger"):
        return []
    facts = analyse_body(body, language)
    if not facts.parsed or facts.auth_calls or _may_ask_for_the_caller(ctx, facts.functions):
        return []
    hidden = []
    for relation in sorted(facts.relations):
        table = ctx.catalog.table(relation)
        if table is None or not table.rls_enabled or table.schema in SUPABASE_SCHEMAS:
            continue
        if any(
            p.permissive and p.command in ("SELECT", "ALL") and ctx.using(p).uid_columns
            for p in table.policies
        ):
            hidden.append(relation)
    return hidden


@rule(
    "anon_security_definer_function_executable",
    level="warn",
    category="security",
    title="SECURITY DEFINER function callable by anon",
    description="Anyone with the public anon key can call this function, which runs with its "
    "owner's rights and bypasses RLS when the owner does.",
    remediation="Revoke execute from anon (and public), move the function to an unexposed "
    "schema, or make it SECURITY INVOKER; if it must stay, check the caller inside it.",
    origin="splinter 0028",
)
def anon_security_definer_function_executable(ctx: LintContext) -> Iterator[Finding]:
    return _definer_functions(ctx, "anon")


@rule(
    "authenticated_security_definer_function_executable",
    level="warn",
    category="security",
    title="SECURITY DEFINER function callable by signed-in users",
    description="Every signed-in user can call this function, which runs with its owner's "
    "rights and bypasses RLS when the owner does.",
    remediation="Make sure the function checks the caller itself (as `auth.uid()`), or revoke "
    "execute from authenticated, or move it to an unexposed schema.",
    origin="splinter 0029",
)
def authenticated_security_definer_function_executable(ctx: LintContext) -> Iterator[Finding]:
    return _definer_functions(ctx, "authenticated")


# -- storage ------------------------------------------------------------------------------


@rule(
    "public_bucket_allows_listing",
    level="warn",
    category="security",
    title="Public bucket can be listed",
    description="Files of a public bucket are served by URL without any policy; a broad SELECT "
    "policy on storage.objects additionally lets clients list every file name in it.",
    remediation="Drop the SELECT policy for the public bucket (public URLs keep working), or "
    "narrow it to the owner's folder.",
    origin="splinter 0025",
)
def public_bucket_allows_listing(ctx: LintContext) -> Iterator[Finding]:
    objects = ctx.catalog.table("storage.objects")
    if objects is None:
        return
    public = [b.id for b in ctx.buckets if b.public]
    for policy in objects.policies:
        if policy.command not in ("SELECT", "ALL") or not policy.permissive:
            continue
        roles = ctx.policy_roles(policy)
        using = ctx.using(policy)
        if (
            not roles
            or not using.parsed
            or using.auth_calls
            or using.functions
            - {
                "storage.foldername",
                "storage.filename",
                "storage.extension",
            }
        ):
            continue
        if using.columns - {"bucket_id"}:
            continue
        listed = {value for column, value in using.compared_literals if column == "bucket_id"}
        named = [b for b in public if b in listed] or (public if using.always_true else [])
        for bucket in named:
            yield ctx.finding(
                "storage.objects",
                f"policy {policy.name} lets {' and '.join(roles)} list every file of the public "
                f"bucket {bucket!r}.",
                location=ctx.location(policy),
                bucket=bucket,
                policy=policy.name,
            )


@rule(
    "storage_policy_without_bucket",
    level="warn",
    category="security",
    title="Storage policy that does not name its bucket",
    description="storage.objects holds the files of every bucket. A policy that never tests "
    "`bucket_id` (only `storage.foldername(name)` or `owner`) applies to all buckets: "
    "what was written for avatars also opens the invoices bucket, and every bucket added later.",
    remediation="Add `bucket_id = '<the bucket>' and ...` to the policy's USING and WITH CHECK.",
)
def storage_policy_without_bucket(ctx: LintContext) -> Iterator[Finding]:
    objects = ctx.catalog.table("storage.objects")
    if objects is None:
        return
    buckets = sorted(b.id for b in ctx.buckets)
    for policy in objects.policies:
        roles = ctx.policy_roles(policy)
        clauses = ctx.expressions(policy)
        if not policy.permissive or not roles or not clauses:
            continue
        if any(not a.parsed or a.always_false or "bucket_id" in a.columns for _, a in clauses):
            continue
        which = f" ({', '.join(repr(b) for b in buckets)})" if buckets else ""
        yield ctx.finding(
            "storage.objects",
            f"policy {policy.name} ({policy.command}, {' and '.join(roles)}) on storage.objects "
            f"never tests bucket_id: it applies to the files of every bucket{which}, and of "
            "every bucket added later.",
            location=ctx.location(policy),
            remediation=f"Add `bucket_id = '<bucket>' and ...` to every clause of {policy.name} "
            f'(`alter policy "{policy.name}" on storage.objects ...`).',
            policy=policy.name,
        )


# -- grant mode ---------------------------------------------------------------------------

GRANT_MODE_FIX = (
    "Set `auto_expose_new_tables = true` under `[api]` in supabase/config.toml (what projects "
    "created before the default changed run with in production), or grant what clients need "
    "in a migration: `grant select, insert, update, delete on all tables in schema public "
    "to anon, authenticated;`."
)


def unreachable_tables(catalog: Catalog) -> tuple[list[str], bool]:
    """Exposed tables no API role may touch, and whether that is every exposed table.

    Only the ones that matter: every exposed table when none is reachable (the project runs
    without the legacy grants and its migrations grant nothing), else those that have
    policies (someone wrote rules for clients who cannot get in).
    """
    tables = [
        t
        for t in catalog.tables
        if t.exposed and t.kind != "foreign table" and t.schema not in SUPABASE_SCHEMAS
    ]
    closed = [
        t
        for t in tables
        if not any(
            set(t.effective.get(role, frozenset())) & {"SELECT", "INSERT", "UPDATE", "DELETE"}
            or any(g.grantee in (role, "PUBLIC") for c in t.columns for g in c.grants)
            for role in CLIENT_ROLES
        )
    ]
    every = bool(tables) and len(closed) == len(tables)
    shown = closed if every else [t for t in closed if t.policies]
    return [t.qualified for t in shown], every


@rule(
    "tables_unreachable_by_api",
    level="warn",
    category="security",
    title="Exposed tables no API role can reach",
    description="Tables in an exposed schema that neither anon nor authenticated hold any "
    "privilege on: every request gets 42501, and lint and probe have nothing to judge. A "
    "project without `[api] auto_expose_new_tables` whose migrations grant nothing runs "
    "like this locally, while projects created before the default changed run with the "
    "legacy grants in production - so the result here is not what production does.",
    remediation=GRANT_MODE_FIX,
)
def tables_unreachable_by_api(ctx: LintContext) -> Iterator[Finding]:
    names, every = unreachable_tables(ctx.catalog)
    if not names:
        return
    if every:
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        schemas = sorted({n.split(".", 1)[0] for n in names})
        yield ctx.finding(
            ", ".join(schemas),
            f"no exposed table is reachable by anon or authenticated ({shown}): the API "
            f"serves nothing, and lint and probe judge nothing. {GRANT_MODE_FIX}",
            location=ctx.locator.grant(names[0]) or ctx.locator.relation(names[0]),
            tables=names,
            every=True,
        )
        return
    for name in names:
        table = ctx.catalog.table(name)
        # Policies naming anon/authenticated are policy_without_grant's; PUBLIC ones are ours.
        if table is None or any(r in p.roles for p in table.policies for r in CLIENT_ROLES):
            continue
        yield ctx.finding(
            name,
            f"{name} has policies for PUBLIC, but neither anon nor authenticated holds any "
            f"privilege on it: the policies never apply and every request gets 42501. "
            f"{GRANT_MODE_FIX}",
            location=ctx.locator.grant(name) or ctx.locator.relation(name),
            tables=[name],
            every=False,
        )
