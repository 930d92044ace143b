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
        "reserved-roles-runner-only",
        "reserved roles and allowed settings are enforced by the migration runner only",
        "supautils refuses ALTER/DROP ROLE on the reserved roles (the supabase_* roles, "
        "dashboard_user, pgbouncer; anon, authenticated, service_role and authenticator may "
        "only get settings changed) and lets postgres set privileged_role_allowed_configs "
        "(pgrst.*, session_replication_role, ...). The runner does both for statements in "
        "migration and seed files; on another postgres connection postgres may alter the "
        "reserved roles and may not set those settings.",
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
        "reduced-service-schemas",
        "service schemas are reduced; vault, graphql, net and cron exist only as stand-ins",
        "pgbouncer (get_auth), realtime (messages, not partitioned, and topic()) and the "
        "graphql_public.graphql placeholder exist; realtime.subscription, Realtime's other "
        "functions and supabase_functions do not. vault, graphql, net, cron and pgsodium exist "
        "only when their stand-in is opted into (vault then from the bootstrap, as Supabase "
        "creates it in every project).",
    ),
    Deviation(
        "stand-ins-are-not-extensions",
        "a stand-in is not the extension it replaces",
        "stand-ins are not in pg_extension; vector's ivfflat/hnsw indexes are hash indexes "
        "(exact search, index options dropped); vault secrets are stored unencrypted; pg_net "
        "queues requests and never sends them; pg_cron records jobs and never runs them; http, "
        "pgjwt sign/verify, pgsodium, pg_hashids and pgroonga search fail when called; a "
        "function in a stood-in language is applied as PL/pgSQL that raises (its body kept as "
        "a comment), and only when created by a top-level statement of a migration or seed.",
    ),
    Deviation(
        "no-passwords",
        "login roles have no password",
        "authenticator, postgres and the service roles log in over the unix socket with trust "
        "authentication only; over TCP only the bootstrap superuser has a password.",
    ),
)

BY_ID = {deviation.id: deviation for deviation in DEVIATIONS}
