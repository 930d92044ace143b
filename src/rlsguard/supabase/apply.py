"""Bootstrap a database, then apply a project's migrations and seed: ``supabase db reset``."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

from rlsguard.supabase.bootstrap import DEFAULT_DATABASE, BootstrapReport, ConnTarget, bootstrap
from rlsguard.supabase.extensions import StandIns
from rlsguard.supabase.migrations import AppliedFile, MigrationSession
from rlsguard.supabase.project import SupabaseProject, SupabaseProjectWarning


@dataclass
class ApplyReport:
    """What ``apply_project`` did: the bootstrap, each file, and the warnings on the way."""

    bootstrap: BootstrapReport | None
    migrations: list[AppliedFile] = field(default_factory=list)
    seeds: list[AppliedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def applied(self) -> list[AppliedFile]:
        return [f for f in (*self.migrations, *self.seeds) if f.status != "already applied"]


def apply_project(
    target: ConnTarget,
    project: SupabaseProject,
    *,
    dbname: str = DEFAULT_DATABASE,
    auto_expose: bool | None = None,
    stand_ins: StandIns | bool | str | None = None,
    run_bootstrap: bool = True,
    statement_timeout: str | None = None,
) -> ApplyReport:
    """Make ``dbname`` what ``supabase db reset`` would make of ``project``.

    ``auto_expose`` overrides ``[api].auto_expose_new_tables`` (unset there means not exposed,
    the current Supabase default). ``stand_ins`` opts into replacements for extensions the
    server lacks (see :mod:`rlsguard.supabase.extensions`). ``statement_timeout`` caps each
    migration and seed statement (a Postgres duration; None or '0': no limit).
    """
    started = time.perf_counter()
    chosen = StandIns.coerce(stand_ins)
    mode = project.config.auto_expose if auto_expose is None else auto_expose
    report = ApplyReport(None, warnings=list(project.warnings))
    if run_bootstrap:
        report.bootstrap = bootstrap(target, dbname=dbname, auto_expose=mode, stand_ins=chosen)
        report.warnings.extend(report.bootstrap.warnings + report.bootstrap.stand_ins)
    with MigrationSession(
        target, dbname, stand_ins=chosen, statement_timeout=statement_timeout
    ) as session:
        wanted = project.config.major_version
        major = int(session.server_version.split(".")[0])
        if wanted is not None and wanted != major:
            message = (
                f"{project.supabase_dir / 'config.toml'}: [db] major_version = {wanted}, but this "
                f"server is PostgreSQL {session.server_version}; behaviour that differs between "
                "major versions (e.g. MAINTAIN in GRANT ALL on 17+) will follow the server"
            )
            warnings.warn(message, SupabaseProjectWarning, stacklevel=2)
            report.warnings.append(message)
        report.migrations = session.migrate(project.migrations)
        report.seeds = session.seed(project.seeds)
        session.verify(project.migrations, project.seeds)
    for applied in report.applied:
        report.warnings.extend(applied.stand_ins)
    report.seconds = time.perf_counter() - started
    return report
