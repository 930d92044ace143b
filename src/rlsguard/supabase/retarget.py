"""Statements about the database ``postgres``, aimed at the database migrations really run in.

On Supabase the project's database is called ``postgres``, and migrations say so:
``alter database postgres set ...``, ``revoke connect on database postgres ...``. On a
scratch server reached by DSN, rlsguard migrates a database of its own instead, and the
server's real ``postgres`` database is somebody else's: such a statement must change the
database being migrated, as it would on Supabase, and leave the server's own alone.
"""

from __future__ import annotations

import copy
from typing import Any

from pglast import ast
from pglast.enums import ObjectType
from pglast.stream import RawStream

PROJECT_DATABASE = "postgres"


def retarget(node: Any, dbname: str, *, project_db: str = PROJECT_DATABASE) -> str | None:
    """The statement's text naming ``dbname`` where it names ``project_db``; None if it does
    not name that database (then it runs unchanged)."""
    if node is None or dbname == project_db or not isinstance(node, _ABOUT_DATABASES):
        return None  # most statements: no copy (a seed's INSERTs are large trees)
    changed = copy.deepcopy(node)
    match changed:
        case ast.AlterDatabaseSetStmt() | ast.AlterDatabaseStmt() if changed.dbname == project_db:
            changed.dbname = dbname
        case ast.AlterRoleSetStmt() if changed.database == project_db:
            changed.database = dbname
        case ast.GrantStmt() if changed.objtype == ObjectType.OBJECT_DATABASE and any(
            _names(o, project_db) for o in changed.objects or ()
        ):
            changed.objects = tuple(
                ast.String(sval=dbname) if _names(o, project_db) else o for o in changed.objects
            )
        case ast.CommentStmt() if changed.objtype == ObjectType.OBJECT_DATABASE and _names(
            changed.object, project_db
        ):
            changed.object = ast.String(sval=dbname)
        case ast.AlterOwnerStmt() if changed.objectType == ObjectType.OBJECT_DATABASE and _names(
            changed.object, project_db
        ):
            changed.object = ast.String(sval=dbname)
        case _:
            return None
    return str(RawStream()(changed))


_ABOUT_DATABASES = (
    ast.AlterDatabaseSetStmt,
    ast.AlterDatabaseStmt,
    ast.AlterRoleSetStmt,
    ast.GrantStmt,
    ast.CommentStmt,
    ast.AlterOwnerStmt,
)


def _names(node: Any, dbname: str) -> bool:
    return isinstance(node, ast.String) and node.sval == dbname
