"""Apply migrations and seed files exactly as the Supabase CLI does.

Per file, like ``supabase db reset``: ``RESET ALL``, then every statement and the history row
sent as one pipelined batch (one implicit transaction: a failure leaves nothing of the file
behind, unless the file itself ran ``COMMIT`` earlier), as ``postgres``. Seeds follow the same
path and are recorded in ``supabase_migrations.seed_files`` with their sha256; a seed whose hash
changed is "dirty" and only gets its hash updated.

The session is a superuser connection that switches to ``postgres`` with ``SET SESSION
AUTHORIZATION`` (so ``session_user`` and ``current_user`` are ``postgres`` and every check is
postgres'), started with postgres' own role settings so ``RESET`` restores them. Statements that
Supabase's ``supautils`` lets postgres run (see :mod:`.supautils`) run as the superuser for
that statement only.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from pglast import ast
from pglast.enums import ObjectType, TransactionStmtKind
from pglast.stream import RawStream
from pglast.visitors import Visitor
from psycopg import sql

from rlsguard.errors import (
    ExtensionUnavailable,
    MigrationError,
    MigrationNotRecorded,
    SqlProblem,
)
from rlsguard.supabase.bootstrap import DEFAULT_DATABASE, ConnTarget
from rlsguard.supabase.extensions import (
    EXTENSION_FUNCTIONS,
    LANGUAGE_MARKER,
    LANGUAGES,
    STAND_INS,
    StandIn,
    StandIns,
    announce,
    switch_hint,
    where_available,
)
from rlsguard.supabase.project import Migration, SqlFile
from rlsguard.supabase.retarget import retarget
from rlsguard.supabase.statements import LineIndex, Statement, split
from rlsguard.supabase.supautils import (
    PRIVILEGED_ROLE,
    Elevation,
    created_extension,
    elevation,
    reserved_refusal,
    session_authorization,
)

log = logging.getLogger("rlsguard.supabase")
# The CLI shows this logger on stderr: which file is running when one takes a while.
progress = logging.getLogger("rlsguard.progress")
SLOW_FILE_AFTER_S = 1.0


class _QuietAbortedPipeline(logging.Filter):
    """Drop psycopg's "error ignored terminating <psycopg.Pipeline>: pipeline aborted".

    When a statement of a batch fails, psycopg raises that error and, leaving the pipeline,
    logs the abort it causes as a warning; with no logging configured, Python prints it on
    stderr. The failure itself is raised and reported (file, line, statement): the warning
    only repeats it, in psycopg's words, in the middle of rlsguard's output.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (
            record.msg == "error ignored terminating %r: %s"
            and args
            and type(args[0]).__name__ in ("Pipeline", "AsyncPipeline")
        )


_PSYCOPG_LOG = logging.getLogger("psycopg")
if not any(isinstance(f, _QuietAbortedPipeline) for f in _PSYCOPG_LOG.filters):
    _PSYCOPG_LOG.addFilter(_QuietAbortedPipeline())

ENSURE_HISTORY = (
    "CREATE SCHEMA IF NOT EXISTS supabase_migrations",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations "
    "(version text NOT NULL PRIMARY KEY)",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.seed_files "
    "(path text NOT NULL PRIMARY KEY, hash text NOT NULL)",
)
INSERT_VERSION = (
    "INSERT INTO supabase_migrations.schema_migrations(version, name, statements) "
    "VALUES (%s, %s, %s)"
)
UPSERT_SEED = (
    "INSERT INTO supabase_migrations.seed_files(path, hash) VALUES (%s, %s) "
    "ON CONFLICT (path) DO UPDATE SET hash = EXCLUDED.hash"
)
_ELEVATE = "SET SESSION AUTHORIZATION DEFAULT"
_DEMOTE = f"SET SESSION AUTHORIZATION {PRIVILEGED_ROLE}"
_UNDEFINED_FUNCTION = re.compile(r"function (?:[\w\"]+\.)?\"?(\w+)\"?\(")
# Schemas that only an extension creates, so an error naming one names the extension.
_SERVICE_SCHEMAS = {
    "vault": "supabase_vault",
    "net": "pg_net",
    "cron": "pg_cron",
    "graphql": "pg_graphql",
    "pgsodium": "pgsodium",
}
_SERVICE_OBJECT = re.compile(
    r'(?:relation |function |schema )"?(vault|net|cron|graphql|pgsodium)[".]'
)
_OWNER_ROLE = re.compile(r'must be (?:a )?(?:member of|able to SET) role "([^"]+)"', re.IGNORECASE)
_MISSING_LANGUAGE = re.compile(r'language "(\w+)" does not exist')
# Index methods that only exist through an extension, and the extension that brings them.
_INDEX_METHODS = {"ivfflat": "vector", "hnsw": "vector", "pgroonga": "pgroonga"}
_NOOP = "SELECT NULL"


def _refuse(message: str) -> str:
    text = message.replace("'", "''")
    return f"DO $rlsguard$ BEGIN RAISE EXCEPTION '{text}' USING ERRCODE = '42501'; END $rlsguard$"


@dataclass
class AppliedFile:
    """One migration or seed file and what running it did."""

    file: SqlFile
    kind: Literal["migration", "seed"]
    status: Literal["applied", "already applied", "hash updated"]
    statements: int = 0
    seconds: float = 0.0
    elevated: list[str] = field(default_factory=list)  # "line N: reason"
    stand_ins: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Step:
    """One command of a file's batch, and the statement it stands for (None: our own)."""

    query: str | sql.Composable
    statement: Statement | None = None
    params: Sequence[Any] | None = None


class MigrationSession:
    """A connection that runs files the way the Supabase CLI does (see the module docstring)."""

    def __init__(
        self,
        target: ConnTarget,
        dbname: str = DEFAULT_DATABASE,
        *,
        stand_ins: StandIns | bool | str | None = None,
        statement_timeout: str | None = None,
        slow_after: float = SLOW_FILE_AFTER_S,
    ) -> None:
        """``statement_timeout``: a Postgres duration each statement may run ('0': no limit);
        ``slow_after``: seconds after which the running file is announced on ``progress``."""
        self.stand_ins = StandIns.coerce(stand_ins)
        self.statement_timeout = statement_timeout
        self.slow_after = slow_after
        self.dbname = dbname
        self._conninfo = target.conninfo(dbname, options=_postgres_options(target, dbname))
        self._notices: list[str] = []
        self.conn = self._connect()
        try:
            row = self.conn.execute(
                "select current_setting('server_version'), "
                "array(select name from pg_available_extensions), "
                "array(select extname from pg_extension), "
                "array(select substr(proname, length(%s) + 1) from pg_proc "
                "      where pronamespace = 'pg_catalog'::regnamespace "
                "      and starts_with(proname, %s))",
                (LANGUAGE_MARKER, LANGUAGE_MARKER),
            ).fetchone()
            assert row is not None
            self.server_version: str = row[0]
            self.available: frozenset[str] = frozenset(row[1])
            # Languages whose stand-in CREATE EXTENSION already ran in this database.
            self.languages: set[str] = set(row[3])
            with self.conn.pipeline():
                for statement in ENSURE_HISTORY:
                    self.conn.execute(statement)
        except BaseException:
            self.conn.close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        conn.add_notice_handler(self._on_notice)
        conn.execute(_DEMOTE)
        return conn

    def __enter__(self) -> MigrationSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def _on_notice(self, diag: psycopg.errors.Diagnostic) -> None:
        self._notices.append(f"{diag.severity}: {diag.message_primary}")

    # -- ledgers ---------------------------------------------------------------
    def applied_versions(self) -> set[str]:
        rows = self.conn.execute("SELECT version FROM supabase_migrations.schema_migrations")
        return {version for (version,) in rows.fetchall()}

    def seed_hashes(self) -> dict[str, str]:
        rows = self.conn.execute("SELECT path, hash FROM supabase_migrations.seed_files")
        return dict(rows.fetchall())

    # -- running files -----------------------------------------------------------
    def migrate(self, migrations: Iterable[Migration]) -> list[AppliedFile]:
        """Apply the migrations not yet in the history table, in order."""
        done = self.applied_versions()
        out = []
        for migration in migrations:
            if migration.version in done:
                out.append(AppliedFile(migration, "migration", "already applied"))
                continue
            out.append(self.run(migration, "migration"))
        return out

    def verify(self, migrations: Iterable[Migration], seeds: Iterable[SqlFile]) -> None:
        """Check, on a fresh connection, that every migration and seed is recorded.

        A file that lost work silently (a transaction left open, a history row
        rolled back) must fail the run here, before a template is cached from it.
        """
        with psycopg.connect(self._conninfo, autocommit=True) as fresh:
            versions = {
                v
                for (v,) in fresh.execute(
                    "SELECT version FROM supabase_migrations.schema_migrations"
                )
            }
            seeded = {
                path for (path,) in fresh.execute("SELECT path FROM supabase_migrations.seed_files")
            }
        missing = [m.display for m in migrations if m.version not in versions]
        missing += [s.display for s in seeds if s.display not in seeded]
        if missing:
            raise MigrationNotRecorded(
                f"{missing[0]}: applied without error, but it is not recorded in the "
                "database afterwards (so its changes were lost, likely by a transaction the "
                "file opened or ended early). Not recorded: " + ", ".join(missing) + ". "
                "Remove BEGIN/COMMIT/ROLLBACK from the file and run again."
            )

    def seed(self, seeds: Iterable[SqlFile]) -> list[AppliedFile]:
        """Run the seed files not yet recorded with the same hash (a changed hash: hash only)."""
        known = self.seed_hashes()
        out = []
        for seed in seeds:
            recorded = known.get(seed.display)
            if recorded == seed.sha256:
                out.append(AppliedFile(seed, "seed", "already applied"))
                continue
            out.append(self.run(seed, "seed", dirty=recorded is not None))
        return out

    def run(
        self, file: SqlFile, kind: Literal["migration", "seed"], *, dirty: bool = False
    ) -> AppliedFile:
        """Run one file as one batch; raise :class:`MigrationError` naming where it failed."""
        started = time.perf_counter()
        statements, _ = split(file.text)
        if not dirty:
            self._refuse_open_transaction(file, kind, statements)
        result = AppliedFile(file, kind, "hash updated" if dirty else "applied")
        # Every file starts as postgres with postgres' settings, whatever the last one did.
        steps: list[_Step] = [_Step("RESET ALL"), _Step(_DEMOTE)]
        if self.statement_timeout not in (None, "0"):
            timeout = sql.SQL("SET statement_timeout = {}").format(
                sql.Literal(self.statement_timeout)
            )
            steps.append(_Step(timeout))
        used: list[StandIn] = []
        if not dirty:
            for statement in statements:
                steps.extend(self._steps_for(file, statement, result, used))
        # Deferred constraints are checked here rather than at the implicit COMMIT, so a
        # violation is reported like any statement's (and the batch stays readable).
        last_line = LineIndex(file.text).position(len(file.text.rstrip()))[0]
        end = Statement("(the end of the file: deferred constraints)", len(file.text), last_line, 1)
        steps.append(_Step("SET CONSTRAINTS ALL IMMEDIATE", end))
        if isinstance(file, Migration) and kind == "migration":
            history = [s.text for s in statements]
            steps.append(_Step(INSERT_VERSION, params=(file.version, file.name, history)))
        else:
            steps.append(_Step(UPSERT_SEED, params=(file.display, file.sha256)))
        self._notices.clear()
        cursors: list[psycopg.Cursor[Any]] = []
        # A caller may run files inside its own transaction (a rolled-back trial): only a
        # transaction the file itself left open is one that silently loses work.
        was_idle = self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        done = threading.Event()
        announce_slow = threading.Thread(
            target=self._announce_if_slow, args=(file, kind, done), daemon=True
        )
        announce_slow.start()
        try:
            with self.conn.pipeline():
                for step in steps:
                    cursor = self.conn.cursor()
                    cursors.append(cursor)
                    cursor.execute(step.query, step.params, prepare=False)
        except psycopg.Error as exc:
            failed = _failed_index(cursors)
            if exc.diag.sqlstate is None:  # the client lost track of the pipeline: start over
                self.conn.close()
                self.conn = self._connect()
            raise self._error(file, kind, statements, steps, failed, exc) from exc
        finally:
            done.set()
            for cursor in cursors:
                cursor.close()
        if was_idle and self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            # The batch ended inside a transaction the file opened: Sync does not commit
            # it, so it would vanish with the connection. Never let that pass silently.
            self.conn.rollback()
            raise MigrationNotRecorded(
                f"{file.display}: this {kind} left a transaction open, so its last part and its "
                "history row were rolled back. End every BEGIN with COMMIT."
            )
        result.statements = len(statements)
        result.notices = list(self._notices)
        result.seconds = time.perf_counter() - started
        message = announce(used, file.display, file=str(file.path))
        if message:
            result.stand_ins.append(message)
        log.info("%s %s: %s in %.3f s", kind, file.display, result.status, result.seconds)
        return result

    def _announce_if_slow(
        self, file: SqlFile, kind: Literal["migration", "seed"], done: threading.Event
    ) -> None:
        """A file still running after ``slow_after`` seconds is named, so a long one
        (or one waiting on a lock) does not look like a hang."""
        if done.wait(self.slow_after):
            return
        progress.info("applying %s %s ...", kind, file.display)
        started = time.perf_counter()
        while not done.wait(10.0):
            progress.info("still applying %s (%.0f s)", file.display, time.perf_counter() - started)

    def _refuse_open_transaction(
        self, file: SqlFile, kind: Literal["migration", "seed"], statements: list[Statement]
    ) -> None:
        """Refuse a file whose BEGIN is never committed (``commit; begin;`` then nothing).

        The Supabase CLI sends a file as one pipelined batch: its ``COMMIT``
        commits what came before, the ``BEGIN`` after it opens a transaction the
        batch's end does not commit, and everything after it — the rest of the
        file, the history row, later migrations and the seed — is silently lost
        (the CLI prints only a 25P01 warning). rlsguard refuses such a file
        before running any of it, naming the line.
        """
        opened: Statement | None = None
        for statement in statements:
            node = statement.node
            if not isinstance(node, ast.TransactionStmt):
                continue
            if node.kind in (
                TransactionStmtKind.TRANS_STMT_BEGIN,
                TransactionStmtKind.TRANS_STMT_START,
            ):
                opened = statement
            elif node.kind in _CLOSING:
                opened = None
        if opened is None:
            return
        raise MigrationError(
            file=file.path,
            display_path=file.display,
            line=opened.line,
            column=opened.column,
            statement=opened.text,
            problem=SqlProblem(
                message="this BEGIN opens a transaction the file never commits; everything "
                "after it (the rest of the file, its history row, later migrations and the "
                "seed) would be silently lost, as with the Supabase CLI"
            ),
            kind=kind,
            advice="remove the BEGIN (each file already runs in one transaction), or end "
            "the transaction it opens with COMMIT before the end of the file",
        )

    def _steps_for(
        self, file: SqlFile, statement: Statement, result: AppliedFile, used: list[StandIn]
    ) -> list[_Step]:
        node = statement.node
        aimed = retarget(node, self.dbname)  # "database postgres" is the one being migrated
        if aimed is not None:
            statement = dataclasses.replace(statement, text=aimed)
        session = session_authorization(node)
        if session == "reset":
            # On Supabase the session user *is* postgres: resetting to it changes nothing.
            return [_Step(_DEMOTE, statement)]
        if session == "set":
            target = _session_target(node)
            if target != PRIVILEGED_ROLE:
                return [_Step(_refuse("permission denied to set session authorization"), statement)]
            return [_Step(_DEMOTE, statement)]
        refusal = reserved_refusal(node)
        if refusal is not None:
            return [_Step(_refuse(refusal), statement)]
        created = created_extension(node)
        if created is not None:
            name, schema, _ = created
            if name not in self.available:
                stand_in = self.stand_ins.for_extension(name)
                if stand_in is None:
                    raise self._missing_extension(file, statement, name)
                used.append(stand_in)
                result.elevated.append(f"line {statement.line}: stand-in for {name}")
                if stand_in.kind == "language":
                    self.languages.add(name)
                body = [_Step(text, statement) for text in stand_in.statements(schema)]
                return [_Step(_ELEVATE), *body, _Step(_DEMOTE)]
        rewritten = self._stand_in_rewrite(node, statement, result, used)
        if rewritten is not None:
            return [rewritten]
        rule = elevation(node) if node is not None else None
        if rule is None:
            return [_Step(statement.text, statement)]
        result.elevated.append(f"line {statement.line}: {rule.reason}")
        return _elevated(_Step(statement.text, statement), rule)

    def _stood_in(self, extension: str) -> StandIn | None:
        """The stand-in in use for ``extension`` (it is missing here and was opted into)."""
        if extension in self.available:
            return None
        return self.stand_ins.for_extension(extension)

    def _stand_in_rewrite(
        self, node: Any, statement: Statement, result: AppliedFile, used: list[StandIn]
    ) -> _Step | None:
        """Statements about a stood-in extension, changed so they apply (each one noted)."""
        note = result.elevated.append
        if isinstance(node, ast.CommentStmt) and node.objtype == ObjectType.OBJECT_EXTENSION:
            name = getattr(node.object, "sval", None)
            if name and self._stood_in(name):
                note(f"line {statement.line}: comment on stood-in extension {name} skipped")
                return _Step(_NOOP, statement)
        if isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_EXTENSION:
            names = [getattr(obj, "sval", None) or str(obj) for obj in node.objects or ()]
            if names and all(self._stood_in(name) for name in names):
                note(f"line {statement.line}: drop of stood-in {', '.join(names)} skipped")
                return _Step(_NOOP, statement)
        if isinstance(node, ast.IndexStmt) and node.accessMethod in _INDEX_METHODS:
            stand_in = self._stood_in(_INDEX_METHODS[node.accessMethod])
            if stand_in is not None and node.options:
                node.options = None
                note(f"line {statement.line}: {node.accessMethod} index options dropped (stand-in)")
                return _Step(RawStream()(node), statement)
        if (
            isinstance(node, ast.GrantStmt)
            and node.objtype in (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_ROUTINE)
            and self._stood_in("vector")
            and any(_pgvector_function(obj) for obj in node.objects or ())
        ):
            # A db pull dump grants on every pgvector function (halfvec_in, ...); the type
            # stand-in has only some: grant on those, skip the statement for the others.
            note(f"line {statement.line}: grant on pgvector functions checked (stand-in)")
            return _Step(_grant_if_present(node, statement.text), statement)
        if isinstance(node, ast.CreateFunctionStmt):
            language = _function_language(node)
            stand_in = self._stood_in(language) if language in LANGUAGES else None
            if stand_in is not None and language in self.languages:
                used.append(stand_in)
                note(f"line {statement.line}: function in {language} replaced by a stand-in")
                return _Step(RawStream()(_raising_function(node, language)), statement)
        return None

    # -- errors ----------------------------------------------------------------
    def _missing_extension(
        self, file: SqlFile, statement: Statement, name: str
    ) -> ExtensionUnavailable:
        stand_in = STAND_INS.get(name)
        advice = where_available(name)
        if stand_in is not None:
            advice += (
                f" Or use rlsguard's {stand_in.kind} stand-in ({stand_in.provides}): "
                f"{switch_hint(name, self.stand_ins.extensions)}."
            )
        else:
            advice += f" rlsguard has no stand-in for {name}."
        return ExtensionUnavailable(
            extension=name,
            file=file.path,
            display_path=file.display,
            line=statement.line,
            column=statement.column,
            statement=statement.text,
            problem=SqlProblem(
                message=f'extension "{name}" is not available on this server '
                f"(PostgreSQL {self.server_version})",
                sqlstate="0A000",
            ),
            kind="migration" if isinstance(file, Migration) else "seed",
            advice=advice,
        )

    def _error(
        self,
        file: SqlFile,
        kind: Literal["migration", "seed"],
        statements: list[Statement],
        steps: list[_Step],
        failed: int | None,
        exc: psycopg.Error,
    ) -> MigrationError:
        diag = exc.diag
        step = steps[-1] if failed is None else steps[failed]
        statement = step.statement
        if statement is None:  # our own command (RESET ALL or the history row)
            statement = Statement(str(step.query), 0, 1, 1)
        line, column = statement.line, statement.column
        error_line = error_column = None
        offset = None
        if step.statement is not None and step.query == statement.text:
            position = _int(diag.statement_position)
            if position:
                offset = statement.location(position)
            else:  # e.g. CREATE POLICY reports a missing relation without a position
                offset = _locate(statement.node, diag.sqlstate, diag.message_primary or "")
        if offset is not None:
            error_line, error_column = LineIndex(file.text).position(offset)
        context = diag.context
        if diag.internal_query:
            context = "\n".join(filter(None, [context, f"internal query: {diag.internal_query}"]))
        problem = SqlProblem(
            message=diag.message_primary or str(exc),
            sqlstate=diag.sqlstate,
            detail=diag.message_detail,
            hint=diag.message_hint,
            context=context,
        )
        committed = None
        if step.statement is not None:
            for earlier in statements:
                if earlier.offset >= step.statement.offset:
                    break
                if _is_commit(earlier.node):
                    committed = earlier.line
        return MigrationError(
            file=file.path,
            display_path=file.display,
            line=line,
            column=column,
            statement=statement.text,
            problem=problem,
            error_line=error_line,
            error_column=error_column,
            kind=kind,
            committed_before=committed,
            advice=self._advice(problem),
        )

    def _advice(self, problem: SqlProblem) -> str | None:
        """rlsguard's own explanation for errors that come from the server build."""
        if problem.sqlstate == "57014" and "statement timeout" in problem.message:
            return (
                f"the statement ran longer than the migrations' statement_timeout "
                f"({self.statement_timeout}); raise [migrations] statement_timeout in the "
                "rlsguard config if it needs longer"
            )
        if problem.sqlstate == "0A000" and "is not available" in problem.message:
            name = problem.message.split('"')[1] if '"' in problem.message else ""
            return where_available(name) if name else None
        if problem.sqlstate in ("42P01", "3F000", "42883"):
            match = _SERVICE_OBJECT.search(problem.message)
            extension = _SERVICE_SCHEMAS.get(match.group(1)) if match else None
            if extension and extension not in self.available:
                default = (
                    " (Supabase installs it in every project)"
                    if extension == "supabase_vault"
                    else ""
                )
                return (
                    f'schema "{match.group(1)}" comes from the "{extension}" extension'  # type: ignore[union-attr]
                    f"{default}, which this server (PostgreSQL {self.server_version}) does not "
                    f"have. {where_available(extension)} Or use rlsguard's stand-in: "
                    f"{switch_hint(extension, self.stand_ins.extensions)}."
                )
        if problem.sqlstate == "42704" and (match := _MISSING_LANGUAGE.search(problem.message)):
            language = match.group(1)
            create = (
                f"Supabase needs the extension too: add `create extension if not exists "
                f"{language};` before this function."
            )
            if (
                language in LANGUAGES
                and self._stood_in(language)
                and language not in self.languages
            ):
                return f"{language} is opted into, but the project never creates it. {create}"
            if language in LANGUAGES and self._stood_in(language):
                return (
                    f"{language} is stood in, but only functions created by a top-level "
                    "CREATE FUNCTION statement of a migration or seed are replaced; this one "
                    "was created another way (dynamic SQL, EXECUTE in a DO block). Write it as "
                    "a top-level statement, or run the project on a server that has "
                    f"{language}."
                )
            if language in LANGUAGES:
                return (
                    f"{where_available(language)} {create} Then use rlsguard's stand-in "
                    "(functions apply, calls raise): "
                    f"{switch_hint(language, self.stand_ins.extensions)}."
                )
        owner = _OWNER_ROLE.search(problem.message) if problem.sqlstate == "42501" else None
        if owner is not None:
            role = owner.group(1)
            return (
                f"postgres cannot give objects to {role} on Supabase either (it is not a member "
                f"of {role}). supabase db pull comments such lines out "
                f'(-- ALTER ... OWNER TO "{role}";): delete or comment this one.'
            )
        if problem.sqlstate == "42501" and problem.message.startswith(
            "permission denied to set parameter"
        ):
            return (
                "On Supabase postgres may set only the superuser settings supautils' "
                "privileged_role_allowed_configs lists (pgrst.*, session_replication_role, "
                "pg_net.*, pgaudit.*, log_min_messages, ...); this one fails there too. "
                "See docs/supabase-fidelity.md."
            )
        if problem.sqlstate == "42883":
            match = _UNDEFINED_FUNCTION.search(problem.message)
            extension = EXTENSION_FUNCTIONS.get(match.group(1)) if match else None
            if extension and extension not in self.available:
                assert match is not None
                advice = (
                    f'{match.group(1)}() comes from the "{extension}" extension, which this '
                    f"server (PostgreSQL {self.server_version}) does not have. "
                    f"{where_available(extension)}"
                )
                if match.group(1) in ("crypt", "gen_salt", "hmac") or match.group(1).startswith(
                    "pgp_"
                ):
                    advice += " rlsguard never stands in for it: it is security-relevant."
                return advice
        return None


_MISSING_RELATION = re.compile(r'relation "([^"]+)" does not exist')


class _Finder(Visitor):  # type: ignore[misc]
    """The file offset of the first RangeVar / FuncCall with the name an error names."""

    def __init__(self, relation: str | None, function: str | None) -> None:
        self.relation = relation
        self.function = function
        self.found: int | None = None

    def visit_RangeVar(self, ancestors: Any, node: Any) -> None:
        name = f"{node.schemaname}.{node.relname}" if node.schemaname else node.relname
        if self.found is None and self.relation in (name, node.relname):
            self.found = node.location

    def visit_FuncCall(self, ancestors: Any, node: Any) -> None:
        parts = [getattr(part, "sval", "") for part in node.funcname or ()]
        if self.found is None and parts and parts[-1] == self.function:
            self.found = node.location


def _locate(node: Any, sqlstate: str | None, message: str) -> int | None:
    """Where in the file the object an error names appears, when Postgres gave no position."""
    if node is None:
        return None
    relation = function = None
    if sqlstate == "42P01" and (match := _MISSING_RELATION.search(message)):
        relation = match.group(1)
    elif sqlstate == "42883" and (match := _UNDEFINED_FUNCTION.search(message)):
        function = match.group(1)
    else:
        return None
    finder = _Finder(relation, function)
    finder(node)
    return finder.found if isinstance(finder.found, int) and finder.found >= 0 else None


_PGVECTOR_TYPES = frozenset(["vector", "halfvec", "sparsevec"])
_PGVECTOR_NAME = re.compile(
    r"^(halfvec|sparsevec|vector|ivfflat|hnsw|array_to_(halfvec|sparsevec|vector)|"
    r"l1_|l2_|cosine_distance|inner_product|binary_quantize|subvector|"
    r"(jaccard|hamming)_distance)"
)


def _pgvector_function(obj: Any) -> bool:
    name = getattr((obj.objname or [None])[-1], "sval", "") or ""
    types = {getattr(t.names[-1], "sval", "") for t in obj.objargs or ()}
    return bool(_PGVECTOR_NAME.match(name) or types & _PGVECTOR_TYPES)


def _grant_if_present(node: Any, text: str) -> str:
    """``text`` run only when every function it names exists (else a NOTICE says why not)."""
    checks = []
    for obj in node.objects or ():
        name = ".".join(sql.Identifier(getattr(p, "sval", "")).as_string(None) for p in obj.objname)
        if obj.args_unspecified or obj.objargs is None:
            checks.append(f"to_regproc({_literal(name)}) IS NOT NULL")
        else:
            args = ", ".join(RawStream()(arg) for arg in obj.objargs)
            checks.append(f"to_regprocedure({_literal(f'{name}({args})')}) IS NOT NULL")
    return (
        "DO $rlsguard_grant$ BEGIN\n"
        f"  IF {' AND '.join(checks)} THEN\n"
        f"    EXECUTE {_literal(text)};\n"
        "  ELSE\n"
        "    RAISE NOTICE 'skipped: a pgvector function the vector stand-in does not provide';\n"
        "  END IF;\nEND $rlsguard_grant$"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _function_language(node: Any) -> str | None:
    for option in node.options or ():
        if option.defname == "language":
            return getattr(option.arg, "sval", None)
    return None


def _raising_function(node: Any, language: str) -> Any:
    """``node`` as a PL/pgSQL function that raises; its original body stays in the source."""
    original = ""
    options = []
    for option in node.options or ():
        if option.defname == "as":
            original = "".join(getattr(part, "sval", "") or "" for part in option.arg or ())
            continue
        if option.defname == "language":
            continue
        options.append(option)
    message = f"{language} is not available here (stand-in)"
    body = (
        f"\nBEGIN\n  RAISE EXCEPTION '{message}' USING ERRCODE = '0A000',\n"
        f"    HINT = 'rlsguard applied this {language} function without its language; run it "
        "on a server that has it.';\nEND\n/* original body:\n"
        + original.replace("*/", "* /")
        + "\n*/\n"
    )
    options.append(ast.DefElem(defname="language", arg=ast.String(sval="plpgsql")))
    options.append(ast.DefElem(defname="as", arg=(ast.String(sval=body),)))
    node.options = tuple(options)
    if node.sql_body is not None:
        node.sql_body = None
    return node


def _elevated(step: _Step, rule: Elevation) -> list[_Step]:
    """Run ``step`` as the superuser (what supautils does), then back to postgres."""
    after = [_Step(query) for query in rule.after]
    return [_Step(_ELEVATE), step, *after, _Step(_DEMOTE)]


def _session_target(node: Any) -> str | None:
    for arg in node.args or ():
        value = getattr(getattr(arg, "val", None), "sval", None)
        if value is not None:
            return str(value)
    return None


_CLOSING = (
    TransactionStmtKind.TRANS_STMT_COMMIT,
    TransactionStmtKind.TRANS_STMT_ROLLBACK,
    TransactionStmtKind.TRANS_STMT_PREPARE,
    TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
    TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED,
)


def _is_commit(node: Any) -> bool:
    return isinstance(node, ast.TransactionStmt) and node.kind in (
        TransactionStmtKind.TRANS_STMT_COMMIT,
        TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _failed_index(cursors: list[psycopg.Cursor[Any]]) -> int | None:
    """The first command of the batch without a successful result is the one that failed.

    None when every command succeeded, i.e. the implicit COMMIT itself failed.
    """
    for index, cursor in enumerate(cursors):
        result = cursor.pgresult
        if result is None or result.status == psycopg.pq.ExecStatus.FATAL_ERROR:
            return index
    return None


def _postgres_options(target: ConnTarget, dbname: str) -> str:
    """``-c name=value`` for each of postgres' role settings in ``dbname``, libpq-escaped."""
    with psycopg.connect(target.conninfo(dbname), autocommit=True) as conn:
        rows = conn.execute(
            "select unnest(setconfig) from pg_db_role_setting "
            "where setrole = (select oid from pg_roles where rolname = %s) "
            "and setdatabase in "
            "(0, (select oid from pg_database where datname = current_database())) "
            "order by setdatabase",
            (PRIVILEGED_ROLE,),
        ).fetchall()
    settings: dict[str, str] = {}
    for (item,) in rows:  # database-specific settings come last and win
        name, _, value = item.partition("=")
        settings[name] = value
    return " ".join(
        "-c " + f"{name}={value}".replace("\\", "\\\\").replace(" ", "\\ ")
        for name, value in settings.items()
    )


def apply_migrations(
    target: ConnTarget,
    migrations: Iterable[Migration],
    *,
    dbname: str = DEFAULT_DATABASE,
    stand_ins: StandIns | bool | str | None = None,
) -> list[AppliedFile]:
    with MigrationSession(target, dbname, stand_ins=stand_ins) as session:
        return session.migrate(migrations)


def apply_seeds(
    target: ConnTarget,
    seeds: Iterable[SqlFile],
    *,
    dbname: str = DEFAULT_DATABASE,
    stand_ins: StandIns | bool | str | None = None,
) -> list[AppliedFile]:
    with MigrationSession(target, dbname, stand_ins=stand_ins) as session:
        return session.seed(seeds)
