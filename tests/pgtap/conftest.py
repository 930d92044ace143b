"""The team to-do project (tests/projects/pgtap) prepared once, and pgTAP databases on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rlsguard.config import load_config
from rlsguard.harness.engine import Engine, EngineOptions
from rlsguard.pgtap.database import TestDatabase

PGTAP_PROJECT = Path(__file__).parents[1] / "projects" / "pgtap"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def pgtap_project() -> Path:
    return PGTAP_PROJECT / "supabase"


@pytest.fixture(scope="session")
def pgtap_engine(pgtap_project: Path, template_cache_dir: Path) -> Iterator[Engine]:
    config = load_config(supabase_dir=pgtap_project)
    config = config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )
    with Engine(config, EngineOptions(supabase_dir=pgtap_project)) as engine:
        yield engine


@pytest.fixture(scope="session")
def server_has_pgtap(pgtap_engine: Engine) -> bool:
    from rlsguard.pgtap.provider import server_pgtap

    with pgtap_engine.connect("postgres") as conn:
        return server_pgtap(conn) is not None


@pytest.fixture(scope="session")
def pgtap_databases(pgtap_engine: Engine) -> Iterator[Callable[[str], TestDatabase]]:
    """A database with pgTAP per implementation ("server", "rlsguard"), made on first use."""
    made: dict[str, TestDatabase] = {}

    def get(implementation: str) -> TestDatabase:
        if implementation not in made:
            name = f"pgtap_tests_{implementation}"
            pgtap_engine.clone(name)
            made[implementation] = TestDatabase(
                pgtap_engine.conninfo(name),
                pgtap_engine.conninfo(name, user="postgres"),
                implementation=implementation,  # type: ignore[arg-type]
            )
        return made[implementation]

    try:
        yield get
    finally:
        for implementation, database in made.items():
            database.close()
            pgtap_engine.drop(f"pgtap_tests_{implementation}")


@pytest.fixture(params=["server", "rlsguard"])
def pgtap_db(
    request: pytest.FixtureRequest,
    pgtap_databases: Callable[[str], TestDatabase],
    server_has_pgtap: bool,
) -> TestDatabase:
    """The project's database under each pgTAP: the server's extension, and rlsguard's own."""
    if request.param == "server" and not server_has_pgtap:
        pytest.skip(
            "this server has no pgtap extension (Debian: apt-get install postgresql-15-pgtap)"
        )
    return pgtap_databases(request.param)
