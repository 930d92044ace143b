"""Reading a supabase/ folder the way the Supabase CLI does (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.errors import ConfigError, SupabaseProjectWarning
from rlsguard.supabase import SupabaseConfig, SupabaseProject
from tests.supabase.conftest import PROJECTS


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_defaults_match_the_cli_template() -> None:
    config = SupabaseConfig.from_mapping({})
    assert config.api_schemas == ("public", "graphql_public")
    assert config.extra_search_path == ("public", "extensions")
    assert config.seed_sql_paths == ("./seed.sql",)
    assert config.seed_enabled
    assert config.migrations_enabled
    assert config.major_version is None
    assert config.auto_expose_new_tables is None


def test_unset_auto_expose_means_not_exposed() -> None:
    assert SupabaseConfig.from_mapping({}).auto_expose is False
    assert SupabaseConfig.from_mapping({"api": {"auto_expose_new_tables": True}}).auto_expose
    explicit = SupabaseConfig.from_mapping({"api": {"auto_expose_new_tables": False}})
    assert explicit.auto_expose is False
    assert explicit.auto_expose_new_tables is False


def test_every_key_is_read() -> None:
    config = SupabaseConfig.from_mapping(
        {
            "project_id": "school",
            "api": {
                "schemas": ["public", "api"],
                "extra_search_path": ["extensions"],
                "auto_expose_new_tables": True,
            },
            "db": {
                "major_version": 15,
                "migrations": {"enabled": False, "schema_paths": ["./schemas/*.sql"]},
                "seed": {"enabled": False, "sql_paths": ["./seeds/*.sql"]},
            },
        }
    )
    assert config.project_id == "school"
    assert config.api_schemas == ("public", "api")
    assert config.extra_search_path == ("extensions",)
    assert config.major_version == 15
    assert not config.migrations_enabled
    assert config.schema_paths == ("./schemas/*.sql",)
    assert not config.seed_enabled
    assert config.seed_sql_paths == ("./seeds/*.sql",)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"db": {"major_version": "15"}}, "db.major_version"),
        ({"db": {"major_version": True}}, "db.major_version"),
        ({"api": {"auto_expose_new_tables": "no"}}, "api.auto_expose_new_tables"),
        ({"api": {"schemas": "public"}}, "api.schemas"),
        ({"db": {"seed": {"sql_paths": [1]}}}, "db.seed.sql_paths"),
    ],
)
def test_wrong_types_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        SupabaseConfig.from_mapping(data, "supabase/config.toml")
    assert info.value.key == key
    assert info.value.path == "supabase/config.toml"


@pytest.mark.parametrize("major", [12, 16])
def test_major_versions_the_cli_rejects(major: int) -> None:
    with pytest.raises(ConfigError, match="not supported by the Supabase CLI"):
        SupabaseConfig.from_mapping({"db": {"major_version": major}})


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    write(tmp_path / "supabase", {"config.toml": "[api\nport = 1\n"})
    with pytest.raises(ConfigError, match="not valid TOML"):
        SupabaseProject.load(tmp_path)


def test_migrations_are_discovered_like_the_cli() -> None:
    with pytest.warns(SupabaseProjectWarning) as caught:
        project = SupabaseProject.load(PROJECTS / "skipped_files")
    assert [(m.version, m.name) for m in project.migrations] == [
        ("20240101000000", "real"),
        ("20240102000000", "second_real"),
    ]
    reasons = {s.path.name: s.reason for s in project.skipped}
    assert set(reasons) == {"20211101000000_init.sql", "README.md", "draft_policies.sql"}
    assert "init" in reasons["20211101000000_init.sql"]
    assert "<timestamp>_name.sql" in reasons["README.md"]
    messages = [str(w.message) for w in caught]
    assert any("Skipping migration supabase/migrations/draft_policies.sql" in m for m in messages)


def test_legacy_init_is_skipped_only_when_first_and_old(tmp_path: Path) -> None:
    write(
        tmp_path / "supabase" / "migrations",
        {"0001_first.sql": "select 1;", "20211101000000_init.sql": "select 2;"},
    )
    project = SupabaseProject.load(tmp_path)
    assert [m.name for m in project.migrations] == ["first", "init"]
    newer = tmp_path / "newer"
    write(newer / "supabase" / "migrations", {"20220101000000_init.sql": "select 1;"})
    assert [m.name for m in SupabaseProject.load(newer).migrations] == ["init"]


def test_seed_globs_are_sorted_and_deduplicated() -> None:
    with pytest.warns(SupabaseProjectWarning, match=r"no seed files matched pattern: ./missing"):
        project = SupabaseProject.load(PROJECTS / "seed_globs")
    assert [s.display for s in project.seeds] == [
        "supabase/seeds/01_rooms.sql",
        "supabase/seeds/02_more.sql",
        "supabase/seed.sql",
    ]


def test_disabled_migrations_and_seed(tmp_path: Path) -> None:
    write(
        tmp_path / "supabase",
        {
            "config.toml": "[db.migrations]\nenabled = false\n[db.seed]\nenabled = false\n",
            "migrations/20240101000000_a.sql": "select 1;",
            "seed.sql": "select 1;",
        },
    )
    project = SupabaseProject.load(tmp_path / "supabase")
    assert project.migrations == ()
    assert project.seeds == ()


def test_find_walks_up_to_the_project(tmp_path: Path) -> None:
    write(tmp_path / "supabase", {"config.toml": 'project_id = "x"\n'})
    nested = tmp_path / "src" / "app"
    nested.mkdir(parents=True)
    project = SupabaseProject.find(nested)
    assert project.supabase_dir == (tmp_path / "supabase").resolve()
    assert project.root == tmp_path.resolve()
    assert project.config.project_id == "x"


def test_find_without_a_project(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no supabase/config.toml"):
        SupabaseProject.find(tmp_path)


def test_seed_hash_is_the_sha256_of_the_file() -> None:
    project = SupabaseProject.load(PROJECTS / "extensions_unqualified")
    import hashlib

    (seed,) = project.seeds
    assert seed.sha256 == hashlib.sha256(seed.path.read_bytes()).hexdigest()
    assert seed.display == "supabase/seed.sql"
