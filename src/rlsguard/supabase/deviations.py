"""Every known way a bootstrapped plain PostgreSQL differs from hosted Supabase.

None may be silent: docs/supabase-fidelity.md lists each id, and tests/supabase/
test_deviations.py asserts each one's effect on a live server, so a change in behaviour (or a
new deviation) fails a test instead of surprising a user.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    id: str
    summary: str
    effect: str


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "supautils-runner-only",
        "supautils is emulated by the migration runner, not by the server",
        "postgres may create privileged extensions, FOR ALL TABLES publications, event triggers, "
        "and create/alter/drop policies and drop triggers on the auth/storage tables supautils "
        "grants, only through rlsguard's migration and seed runner (top-level statements naming "
        "the table with its schema). The same statement on another postgres connection, or "
        "inside a DO block or function, fails here and works on Supabase.",
    ),
    Deviation(
        "runner-superuser-session",
        "migrations run in a superuser session switched to postgres",
        "session_user and current_user are postgres and every check is postgres', but the "
        "connection authenticated as supabase_admin: SET/RESET SESSION AUTHORIZATION written in "
        "a file is intercepted (a no-op, or 42501 as on Supabase); issued from dynamic SQL it "
        "would regain superuser.",
    ),
    Deviation(
        "event-trigger-owner",
        "event triggers created by migrations belong to supabase_admin",
        "supautils makes postgres their owner and skips them for superusers and reserved roles; "
        "here they are owned by supabase_admin and fire for every role.",
    ),
    Deviation(
        "reserved-roles-unprotected",
        "reserved roles can be altered by postgres",
        "supautils refuses ALTER/DROP ROLE on anon, authenticated, service_role, authenticator "
        "and the supabase_* roles; here postgres (CREATEROLE) may alter the API roles.",
    ),
    Deviation(
        "no-safeupdate",
        "pg-safeupdate is not loaded",
        "anon and authenticated do not preload safeupdate, so an UPDATE or DELETE without WHERE "
        "by an API role is not rejected as it is through the Data API on Supabase.",
    ),
    Deviation(
        "extension-set",
        "the extensions are the server build's",
        "Debian PostgreSQL 15 has no vector, the embedded PostgreSQL 18 wheel has no pgcrypto "
        "or uuid-ossp, and neither has pg_net, pg_graphql, pgsodium or supabase_vault; "
        "migrations needing them fail with the extension's name unless stand-ins are opted into.",
    ),
    Deviation(
        "reduced-auth-schema",
        "the auth schema is reduced",
        "auth has users, identities, sessions, refresh_tokens, audit_log_entries, instances, "
        "mfa_factors and mfa_amr_claims with their final columns; the other GoTrue tables "
        "(sso_*, saml_*, flow_state, one_time_tokens, oauth_*, mfa_challenges, "
        "schema_migrations) and the auth DDL-protection event triggers are absent.",
    ),
    Deviation(
        "reduced-storage-schema",
        "the storage schema is reduced",
        "storage has buckets and objects with their current columns, foldername/filename/"
        "extension and the delete protection; storage.migrations, prefixes, s3_* tables, "
        "buckets_analytics and search() are absent.",
    ),
    Deviation(
        "no-service-schemas",
        "realtime, vault, graphql, pgbouncer and supabase_functions schemas are absent",
        "only the supabase_realtime publication exists for Realtime; realtime.messages, "
        "vault.secrets, graphql.resolve() and supabase_functions.http_request() do not.",
    ),
    Deviation(
        "no-passwords",
        "login roles have no password",
        "authenticator, postgres and the service roles log in over the unix socket with trust "
        "authentication only; over TCP only the bootstrap superuser has a password.",
    ),
)

BY_ID = {deviation.id: deviation for deviation in DEVIATIONS}
