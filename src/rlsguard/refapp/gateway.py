"""``rlsguard up``'s API gateway: the reference app with the auth service mounted, so one URL
serves ``/rest/v1`` and ``/auth/v1`` as Supabase's gateway (Kong) does.

The app's data routes are a small PostgREST: reads of the exposed tables and calls of the
exposed functions, as the caller's role (RLS applies). On any project they expose the
``public`` tables and functions found at start; the drills' extra endpoints (the reference
platform's ``class_average``) only exist where the project defines them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rlsguard.authservice import app as auth_app
from rlsguard.refapp.server import RefApp, start_refapp

APP_ROLE = "authenticator"


def exposed(conn: Any, schema: str = "public") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The schema's tables and views, and its functions (by name)."""
    tables = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p') order by 1",
        (schema,),
    ).fetchall()
    functions = conn.execute(
        "select distinct p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
        "where n.nspname = %s and p.prokind = 'f' order by 1",
        (schema,),
    ).fetchall()
    return tuple(r[0] for r in tables), tuple(r[0] for r in functions)


def start_gateway(engine: Any, auth: Any, dbname: str = "postgres") -> tuple[RefApp, Any]:
    """Start the app with the auth service's settings mounted in it; stop the standalone
    auth process (one auth service, one URL). Returns the app and the auth endpoint as seen
    through the gateway."""
    with engine.connect(dbname, autocommit=True) as conn:
        tables, functions = exposed(conn)
    auth_env = {k: v for k, v in auth.server.env.items() if k.startswith("RLSGUARD_AUTH_")}
    auth_env.pop(auth_app.ENV_ISSUER, None)  # the gateway's own URL (set once it has a port)
    app = start_refapp(
        engine.stack,
        dsn=engine.conninfo(dbname, user=APP_ROLE),
        jwt_secret=engine.signer.secret,
        name=engine.stack.unique_name("api"),
        auth_env=auth_env,
        tables=tables,
        functions=functions,
    )
    auth.server.stop()
    return app, dataclasses.replace(auth, url=app.url, server=app.server)
