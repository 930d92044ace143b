"""The gate pipeline: base and head built, compared and attacked, one verdict.

Steps, each reported to a :class:`Reporter` as it starts and ends (the CLI draws them live):

1. ``build``: the base (a git ref's ``supabase/`` folder, read from git's object database)
   and the head (the working tree by default, uncommitted files included; or a ref or a
   folder) are built in parallel, each from the template cache when it has seen the schema;
2. ``policy``: both security surfaces are snapshotted and the graded policy diff computed;
3. ``audit``: lint and probe of head and base; a finding already on base (same check, rule
   and object) is *old*, collapsed in reports and never blocking;
4. ``matrix``: the project's access matrix on head, when the project has one;
5. ``access``: every persona x table x operation on base and head (:mod:`.access`);
6. ``rollback``: the rollback migration from head back to base's surface, generated and
   applied in a rolled-back transaction: it must put back everything the base had (objects
   the change created are left for a person to review, and listed).

Verdict: ``blocked`` (exit 1) when a new unwaived finding reaches ``fail_on``, a matrix cell
fails, an access widening has no passing matrix cell that expects it, or the rollback
dry-run does not restore base; ``error`` (exit 2) when the gate cannot run (a bad ref, a
broken migration - the message names file and line -, an invalid matrix, a server that does
not start); else ``pass`` (exit 0).
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import psycopg

from rlsguard.audit.findings import LOCKOUT_RULE, FailOn, Finding, reaches, sort_findings
from rlsguard.config import EngineOptions
from rlsguard.errors import RlsguardError
from rlsguard.journal import Journal, Reporter, Silent, Step
from rlsguard.journal import StepStatus as StepStatus  # re-exported: the gate's vocabulary

if TYPE_CHECKING:
    from rlsguard.config import ProjectConfig
    from rlsguard.database import Database
    from rlsguard.gate.access import AccessDiff
    from rlsguard.harness.engine import Engine
    from rlsguard.matrix.load import Matrix
    from rlsguard.matrix.results import CellResult, MatrixRun
    from rlsguard.policy.diff import PolicyDiff
    from rlsguard.policy.snapshot import Snapshot
    from rlsguard.workspace.build import Workspace
    from rlsguard.workspace.rollback import Rollback
    from rlsguard.workspace.sources import Source

Verdict = Literal["pass", "blocked", "error"]
STEPS: tuple[tuple[str, str], ...] = (
    ("build", "build base and head"),
    ("policy", "snapshot and graded policy diff"),
    ("audit", "lint and probe"),
    ("matrix", "access matrix on head"),
    ("access", "access diff"),
    ("rollback", "rollback dry-run"),
)
EXIT_CODES: dict[Verdict, int] = {"pass": 0, "blocked": 1, "error": 2}


class GateError(RlsguardError):
    """The gate cannot run (exit 2): a bad ref, a broken migration, an invalid matrix..."""


@dataclass
class GateOptions:
    """What ``rlsguard gate`` was asked (see :func:`run_gate`)."""

    base: str
    head: str | None = None
    supabase_dir: Path | None = None
    fail_on: FailOn = "error"
    no_cache: bool = False
    allow_narrowing: bool = False  # intentional lock-downs: losing all access does not block
    stand_ins: tuple[str, ...] = ()
    pg_bin: str | None = None
    engine: EngineOptions | None = None  # --backend, --dsn, --allow-destructive


@dataclass(frozen=True)
class SourceInfo:
    """A side of the comparison as a person reads it."""

    spec: str  # as given: "origin/main", "HEAD", "supabase"
    label: str  # "origin/main:supabase"
    kind: str  # git or directory
    commit: str | None = None  # the commit a git ref resolved to

    def as_dict(self) -> dict[str, str | None]:
        return {"spec": self.spec, "label": self.label, "kind": self.kind, "commit": self.commit}


@dataclass(frozen=True)
class GateFinding:
    """A lint or probe finding on head: new (not on base) or old, and whether it blocks."""

    finding: Finding
    new: bool
    blocking: bool


@dataclass
class GateReport:
    """Everything the gate saw; outputs (summary, JUnit, SARIF, JSON) are rendered from it."""

    options: GateOptions
    supabase_dir: Path | None = None
    base: SourceInfo | None = None
    head: SourceInfo | None = None
    steps: list[Step] = field(default_factory=list)
    policy: PolicyDiff | None = None
    findings: list[GateFinding] = field(default_factory=list)
    probe_notes: list[str] = field(default_factory=list)
    matrix_file: str | None = None
    matrix: MatrixRun | None = None
    access: AccessDiff | None = None
    rollback: Rollback | None = None
    rollback_error: str | None = None
    error: str | None = None
    seconds: float = 0.0
    lockout_waivers: dict[str, str] = field(default_factory=dict)  # table -> reviewed reason
    squawk_note: str | None = None  # what the optional squawk step did, or why it skipped

    # -- the verdict -----------------------------------------------------------------------
    @property
    def blocking_findings(self) -> list[GateFinding]:
        return [f for f in self.findings if f.blocking]

    @property
    def new_findings(self) -> list[GateFinding]:
        return [f for f in self.findings if f.new]

    @property
    def old_findings(self) -> list[GateFinding]:
        return [f for f in self.findings if not f.new]

    @property
    def matrix_failures(self) -> list[CellResult]:
        return list(self.matrix.failed) if self.matrix is not None else []

    @property
    def rollback_problems(self) -> list[str]:
        """What the rollback dry-run could not put back (empty: it restores the base).

        Objects the change *created* (a new table, view or function) are left alone by a
        rollback - a person reviews them - and do not count; anything of the base that SQL
        cannot restore (a dropped table, a changed function body), a difference no skipped
        item explains, a second application that changes the surface again, or a file that
        does not apply, does.
        """
        if self.rollback_error is not None:
            return [self.rollback_error.splitlines()[0]]
        rollback = self.rollback
        if rollback is None:
            return []
        out = [f"{s.object}: {s.reason}" for s in rollback.skipped if s.kind == "cannot"]
        out += [f"still different: {m}" for m in rollback.unexplained]
        if not rollback.idempotent:
            out.append("applying the rollback a second time changed the surface again")
        return out

    @property
    def rollback_failed(self) -> bool:
        return bool(self.rollback_problems)

    @property
    def left_alone(self) -> list[str]:
        """What the change created and a rollback leaves for a person to review."""
        if self.rollback is None:
            return []
        return [f"{s.object}: {s.reason}" for s in self.rollback.skipped if s.kind == "left alone"]

    @property
    def reasons(self) -> list[str]:
        """Why the gate blocks (empty: it passes), one sentence each."""
        out = []
        blocking = self.blocking_findings
        if blocking:
            distinct = list(
                dict.fromkeys(f"{g.finding.rule} on {g.finding.object}" for g in blocking)
            )
            names = ", ".join(distinct[:10]) + (
                f", and {len(distinct) - 10} more" if len(distinct) > 10 else ""
            )
            out.append(
                f"{len(blocking)} new finding(s) at or above {self.options.fail_on}: {names}"
            )
        failures = self.matrix_failures
        if failures:
            out.append(f"{len(failures)} access matrix cell(s) failed")
        if self.access is not None and self.access.uncovered:
            distinct = list(dict.fromkeys(c.table for c in self.access.uncovered))
            tables = ", ".join(distinct[:10]) + (
                f", and {len(distinct) - 10} more" if len(distinct) > 10 else ""
            )
            out.append(
                f"{len(self.access.uncovered)} access widening(s) that no expectation covers "
                f"({tables})"
            )
        lockouts = self.lockouts
        if lockouts:
            tables = "; ".join(
                f"{table} ({', '.join(who)})" for table, who in list(lockouts.items())[:5]
            )
            more = f"; and {len(lockouts) - 5} more table(s)" if len(lockouts) > 5 else ""
            out.append(
                f"access lost entirely (the runbook's P1, RLS policy broken: no access) on "
                f"{tables}{more}: some rows before, none now; if this lock-down is "
                "intended, rerun with --allow-narrowing or waive `access_lockout` for the table"
            )
        if self.rollback_failed:
            out.append("the rollback dry-run does not restore the base's security surface")
        return out

    @property
    def lockouts(self) -> dict[str, list[str]]:
        """Tables some persona can no longer reach at all, unless allowed or waived."""
        if self.access is None or self.options.allow_narrowing:
            return {}
        return {
            table: who
            for table, who in self.access.lockout_tables().items()
            if table not in self.lockout_waivers
        }

    @property
    def verdict(self) -> Verdict:
        if self.error is not None:
            return "error"
        return "blocked" if self.reasons else "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def rollback_command(self) -> str:
        """What a responder runs to put the base's surface back after a bad merge."""
        to = self.base.commit if self.base and self.base.commit else self.options.base
        command = f"rlsguard rollback --to {to}"
        if self.options.supabase_dir is not None:
            command += f" --supabase-dir {self.options.supabase_dir}"
        return command


# -- running --------------------------------------------------------------------------------


def run_gate(
    options: GateOptions,
    *,
    workspace: Workspace | None = None,
    reporter: Reporter | None = None,
) -> GateReport:
    """Run every step and return the report (an error is recorded, never raised).

    ``workspace``: build in this workspace (engines of folders it has seen are reused;
    engines of git refs are released at the end, their folders are temporary). Its config
    then supplies what is not about the schema - personas, waivers, cache, server binaries -
    while the matrix file comes from the project's config; without one, the gate opens a
    workspace with the project's config and closes it at the end.
    """
    report = GateReport(options)
    started = time.perf_counter()
    try:
        _Gate(options, report, reporter or Silent()).run(workspace)
    except RlsguardError as exc:  # GateError included: a bad ref, a broken migration, ...
        report.error = str(exc)
    except psycopg.Error as exc:
        step = report.steps[-1].name if report.steps else "the gate"
        report.error = f"the database failed (after {step}): {exc}"
    report.seconds = time.perf_counter() - started
    return report


class _Gate:
    def __init__(self, options: GateOptions, report: GateReport, reporter: Reporter) -> None:
        self.options = options
        self.report = report
        self.reporter = reporter
        self.journal = Journal("gate", reporter=reporter, steps=report.steps)

    # -- step bookkeeping ----------------------------------------------------------------
    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        with self.journal.step(name, dict(STEPS)[name]) as step:
            yield step

    def skip(self, name: str, why: str) -> None:
        self.journal.skip(name, dict(STEPS)[name], why)

    # -- the pipeline --------------------------------------------------------------------
    def run(self, workspace: Workspace | None) -> None:
        from rlsguard.workspace.build import Workspace

        config, folder = self._config()
        self.report.supabase_dir = folder
        with ExitStack() as stack:
            if workspace is None:
                options = dataclasses.replace(
                    self.options.engine or EngineOptions(),
                    no_cache=self.options.no_cache,
                    stand_ins=self.options.stand_ins,
                    pg_bin=self.options.pg_bin,
                )
                workspace = stack.enter_context(Workspace(config, options))
            ws = workspace
            with self.step("build") as step:
                sources = self._sources(stack, folder, step)
                stack.callback(_release, ws, sources)  # before the exports are deleted
                self._require_configured_matrix(config, folder, sources[1], step)
                folders = [s.supabase_dir for s in sources if s.supabase_dir is not None]
                base_engine, head_engine = ws.engines(folders)
                step.detail = _build_detail(base_engine, head_engine)
            self._pipeline(stack, config, folder, sources, base_engine, head_engine)

    def _config(self) -> tuple[ProjectConfig, Path]:
        from rlsguard.config import load_config

        given = self.options.supabase_dir
        folder = given.resolve() if given is not None else None
        config = load_config(supabase_dir=folder)
        return config, folder or Path(config.supabase_dir).resolve()

    def _sources(self, stack: ExitStack, folder: Path, step: Step) -> list[Source]:
        from rlsguard.workspace.sources import SourceError, open_source

        specs = [self.options.base, self.options.head or str(folder)]
        sources = []
        for role, spec in zip(("base", "head"), specs, strict=True):
            try:
                source = stack.enter_context(open_source(spec, supabase_dir=folder))
            except SourceError as exc:
                step.detail = f"--{role} {spec}: {exc}"
                raise GateError(f"--{role} {spec}: {exc}") from exc
            if source.supabase_dir is None:
                step.detail = f"--{role} {spec} is a snapshot file"
                raise GateError(
                    f"--{role} {spec}: the gate needs a database to attack and compare, and a "
                    "snapshot file has none; give a git ref or a supabase/ folder"
                )
            sources.append(source)
        self.report.base, self.report.head = (
            SourceInfo(spec, s.label, s.kind, _commit(folder, spec) if s.kind == "git" else None)
            for spec, s in zip(specs, sources, strict=True)
        )
        return sources

    def _pipeline(
        self,
        stack: ExitStack,
        config: ProjectConfig,
        folder: Path,
        sources: list[Source],
        base_engine: Engine,
        head_engine: Engine,
    ) -> None:
        from rlsguard.gate.access import access_of_databases
        from rlsguard.matrix.check import Checker
        from rlsguard.policy.diff import diff_snapshots

        base_db = stack.enter_context(base_engine.cloned_database())
        head_db = stack.enter_context(head_engine.cloned_database())
        schemas = list(head_engine.load_project().config.api_schemas)

        with self.step("policy") as step:
            base_snap, head_snap = self._snapshots(base_db, head_db, base_engine, head_engine)
            self.report.policy = diff_snapshots(base_snap, head_snap)
            counts = self.report.policy.counts()
            step.detail = (
                f"{len(self.report.policy.changes)} change(s): {counts['widens']} widen, "
                f"{counts['narrows']} narrow, {counts['neutral']} neutral"
            )

        with self.step("audit") as step:
            self._audit(base_engine, head_engine, base_db, head_db)
            if config.gate.squawk:
                self._squawk(base_engine, head_engine, folder)
            blocking = len(self.report.blocking_findings)
            step.detail = (
                f"{len(self.report.new_findings)} new finding(s), "
                f"{len(self.report.old_findings)} old; {blocking} at or above "
                f"{self.options.fail_on}"
            )
            if self.report.squawk_note:
                step.detail += f"; {self.report.squawk_note}"
            step.status = "failed" if blocking else "passed"

        matrix = None
        found = self._matrix_text(config, folder, sources[1])
        if found is None:
            self.skip("matrix", "the project has no access matrix")
        else:
            with self.step("matrix") as step:
                matrix = self._load_matrix(found, head_engine, step)
                run = Checker(head_db, matrix, schemas=schemas).run()
                self.report.matrix = run
                step.detail = f"{len(run.results)} cell(s), {len(run.failed)} failed"
                step.status = "failed" if run.failed else "passed"

        with self.step("access") as step:
            diff = access_of_databases(
                base_db,
                head_db,
                schemas=schemas,
                matrix=matrix,
                base_label=sources[0].label,
                head_label=sources[1].label,
            )
            diff.cover(self.report.matrix)
            self.report.access = diff
            counts = diff.counts()
            step.detail = (
                f"{diff.cells} cell(s) as {len(diff.personas)} persona(s): {counts['widens']} "
                f"widen ({counts['uncovered']} uncovered), {counts['narrows']} narrow"
            )
            lockouts = len(diff.lockouts)
            if lockouts:
                step.detail += f", {lockouts} lock-out(s)"
            step.status = "failed" if diff.uncovered or self.report.lockouts else "passed"

        with self.step("rollback") as step:
            self._rollback(head_engine, head_db, base_snap, sources[1])
            rollback = self.report.rollback
            if self.report.rollback_error is not None:
                step.status, step.detail = "failed", self.report.rollback_error.splitlines()[0]
            elif rollback is not None and not rollback.needed:
                step.detail = "not needed: the surfaces are equal"
            elif rollback is not None:
                problems = self.report.rollback_problems
                left = len(self.report.left_alone)
                outcome = (
                    f"{len(problems)} thing(s) it cannot restore"
                    if problems
                    else "restores the base"
                    + (f" ({left} new object(s) left alone)" if left else "")
                )
                step.detail = f"{len(rollback.units)} restore step(s); {outcome}"
                step.status = "failed" if problems else "passed"

    # -- the parts -----------------------------------------------------------------------
    def _snapshots(
        self, base_db: Database, head_db: Database, base: Engine, head: Engine
    ) -> tuple[Snapshot, Snapshot]:
        from rlsguard.policy.catalog import read_catalog
        from rlsguard.policy.snapshot import Snapshot

        out = []
        for db, engine, info in (
            (base_db, base, self.report.base),
            (head_db, head, self.report.head),
        ):
            schemas = engine.load_project().config.api_schemas
            label = info.label if info else ""
            out.append(Snapshot.from_catalog(read_catalog(db.conn, schemas), label))
        return out[0], out[1]

    def _audit(self, base: Engine, head: Engine, base_db: Database, head_db: Database) -> None:
        from rlsguard.audit.api import lint_project, probe_project

        def audit(engine: Engine, db: Database) -> tuple[list[Finding], list[str]]:
            context = engine.context()
            probe = probe_project(db, context)
            return [*lint_project(db, context), *probe.findings], list(probe.notes)

        # Base and head live on two servers: audit both at once (threads that only query).
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="rlsguard-audit") as pool:
            on_head = pool.submit(audit, head, head_db)
            on_base = pool.submit(audit, base, base_db)
            head_findings, self.report.probe_notes = on_head.result()
            base_findings = on_base.result()[0]
        old = {_identity(f) for f in base_findings}
        fail_on = self.options.fail_on
        self.report.findings = [
            GateFinding(
                f,
                new=_identity(f) not in old,
                blocking=_identity(f) not in old
                and f.waived is None
                and (reaches(f.level, fail_on) or _blocks_when_new(f)),
            )
            for f in sort_findings(head_findings)
        ]
        self.report.lockout_waivers = {
            w.object: w.reason
            for w in head.context().waivers
            if getattr(w, "rule", None) == LOCKOUT_RULE
        }

    def _squawk(self, base: Engine, head: Engine, folder: Path) -> None:
        """squawk on the migrations head adds or edits; its findings are new by nature."""
        from rlsguard.gate.squawk import run_squawk

        before = {(m.version, m.name): m.text for m in base.load_project().migrations}
        changed = [
            m.path
            for m in head.load_project().migrations
            if before.get((m.version, m.name)) != m.text
        ]
        result = run_squawk(changed, folder.parent)
        fail_on = self.options.fail_on
        self.report.findings += [
            GateFinding(f, new=True, blocking=f.waived is None and reaches(f.level, fail_on))
            for f in result.findings
        ]
        self.report.squawk_note = (
            f"squawk skipped: {result.skipped}"
            if result.skipped
            else f"squawk: {len(result.findings)} finding(s) in {result.files} changed file(s)"
        )

    def _require_configured_matrix(
        self, config: ProjectConfig, folder: Path, head: Source, step: Step
    ) -> None:
        """A configured matrix that is missing fails before anything is built: skipping
        it would pass a gate that checked no cell."""
        if "matrix" not in config.model_fields_set:
            return
        if self._matrix_text(config, folder, head) is None:
            step.detail = f"matrix: no such file: {_relative(Path(config.matrix), folder)}"
            raise GateError(
                f"{config.source or 'rlsguard config'}: matrix: no such file: "
                f"{_relative(Path(config.matrix), folder)}. Fix the path, or remove the key "
                "if the project has no access matrix."
            )

    def _matrix_text(
        self, config: ProjectConfig, folder: Path, head: Source
    ) -> tuple[str, str] | None:
        """The head's matrix file (text, name): from the ref when the head is a ref."""
        path = Path(config.matrix)
        if head.kind == "git":
            ref = self.options.head or "HEAD"
            text = _file_at(folder, ref, path)
            return None if text is None else (text, f"{ref}:{_relative(path, folder)}")
        if not path.is_file():
            return None
        try:
            return path.read_text(encoding="utf-8"), _relative(path, folder)
        except (OSError, UnicodeDecodeError) as exc:
            raise GateError(f"{_relative(path, folder)}: cannot be read as UTF-8 ({exc})") from exc

    def _load_matrix(self, found: tuple[str, str], engine: Engine, step: Step) -> Matrix:
        from rlsguard.matrix.load import MatrixError, parse_matrix

        text, name = found
        self.report.matrix_file = name
        try:
            matrix = parse_matrix(text, source=Path(name), personas=engine.personas.names)
        except MatrixError as exc:
            step.detail = f"invalid matrix file: {exc.problems[0]}"
            raise GateError(f"the access matrix is invalid:\n{exc}") from exc
        if not matrix.cells():
            step.detail = "the matrix has no cells"
            raise GateError(
                f"{name}: the access matrix has no cells, so the gate would check none. "
                "Add expectations, or remove the file."
            )
        return matrix

    def _rollback(
        self, head: Engine, head_db: Database, base_snap: Snapshot, source: Source
    ) -> None:
        from rlsguard.workspace.rollback import rollback_database

        project = head.load_project()
        try:
            self.report.rollback = rollback_database(
                head,
                head_db.name,
                base_snap,
                exposed_schemas=project.config.api_schemas,
                versions=[m.version for m in project.migrations],
                head_label=source.label,
            )
        except RlsguardError as exc:  # the generated file does not apply: a failed dry-run
            self.report.rollback_error = str(exc)


# -- helpers --------------------------------------------------------------------------------


def _blocks_when_new(finding: Finding) -> bool:
    """Findings a change may not add whatever ``--fail-on`` says: a SECURITY DEFINER
    function whose search_path callers can change (it runs their objects as its owner)."""
    return finding.rule == "function_search_path_mutable" and bool(
        finding.details.get("security_definer")
    )


def _identity(finding: Finding) -> tuple[str, str, str]:
    """What makes a head finding the same as a base finding: check, rule and object."""
    return (finding.check, finding.rule, finding.object)


def _build_detail(base: Engine, head: Engine) -> str:
    parts = []
    for name, engine in (("base", base), ("head", head)):
        prepared = engine.prepared
        if prepared is None:
            continue
        how = "cached" if prepared.cache_hit else "built"
        parts.append(f"{name} {how} in {prepared.seconds:.1f} s")
    return ", ".join(parts)


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    except FileNotFoundError:
        return None
    return done.stdout.decode(errors="replace") if done.returncode == 0 else None


def _commit(folder: Path, ref: str) -> str | None:
    """The commit ``ref`` names in ``folder``'s repository (for labels and the rollback)."""
    out = _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return out.strip() if out else None


def _file_at(folder: Path, ref: str, path: Path) -> str | None:
    """A file's text as committed in ``ref`` (None when it is not there)."""
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    try:
        relative = path.resolve().relative_to(Path(top.strip()).resolve()).as_posix()
    except ValueError:
        return None
    return _git(folder, "show", f"{ref}:{relative}")


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.parent.resolve()).as_posix()
    except ValueError:
        return str(path)


def _release(ws: Workspace, sources: list[Source]) -> None:
    """Stop the engines of git exports: their folders are deleted with the run."""
    for source in sources:
        if source.kind == "git" and source.supabase_dir is not None:
            ws.release(source.supabase_dir)
