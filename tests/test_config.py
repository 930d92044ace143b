"""Project configuration: lookup, validation and the errors a user sees."""

from __future__ import annotations

import json
import re
import textwrap
import warnings
from pathlib import Path

import pytest

from rlsguard.config import (
    DEFAULT_DOCKER_IMAGE,
    ConfigWarning,
    Persona,
    ProjectConfig,
    load_config,
)
from rlsguard.errors import ConfigError

FULL = """\
supabase_dir = "db/supabase"
backend = "dsn"
dsn = "postgresql://app@127.0.0.1:6543/postgres"
pg_bin = "/usr/lib/postgresql/15/bin"
redis_bin = "bin/valkey-server"
run_as = "ci-runner"
allow_destructive = "127.0.0.1:6543/postgres"
matrix = "checks/matrix.yaml"

[postgres]
max_connections = 20
settings = { work_mem = "8MB", jit = false, "auto_explain.log_min_duration" = 0 }

[redis]
persistence = "aof"

[docker]
image = "supabase/postgres:15.8.1.085"
pgdata_tmpfs = false

[personas.anon]
role = "anon"

[personas.student]
user = "student@school.test"
claims = { aal = "aal2", is_anonymous = false }

[cache]
enabled = false
dir = ".cache/rlsguard"
"""


def project(root: Path, files: dict[str, str]) -> Path:
    """A project tree with a repository root marker, so lookups never climb above it."""
    (root / ".git").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def config_error(tmp_path: Path, text: str, name: str = "rlsguard.toml") -> ConfigError:
    project(tmp_path, {name: text})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    return info.value


# -- valid files -------------------------------------------------------------------


def test_every_key_from_rlsguard_toml(tmp_path: Path) -> None:
    project(tmp_path, {"rlsguard.toml": FULL})
    config = load_config(tmp_path)
    assert config.source == tmp_path / "rlsguard.toml"
    assert config.supabase_dir == tmp_path / "db" / "supabase"
    assert config.backend == "dsn"
    assert config.dsn == "postgresql://app@127.0.0.1:6543/postgres"
    assert config.pg_bin == Path("/usr/lib/postgresql/15/bin")
    assert config.redis_bin == tmp_path / "bin" / "valkey-server"
    assert config.run_as == "ci-runner"
    assert config.allow_destructive == "127.0.0.1:6543/postgres"
    assert config.matrix == tmp_path / "checks" / "matrix.yaml"
    assert config.postgres.max_connections == 20
    assert config.postgres.settings == {
        "work_mem": "8MB",
        "jit": False,
        "auto_explain.log_min_duration": 0,
    }
    assert config.redis.persistence == "aof"
    assert config.docker.image == "supabase/postgres:15.8.1.085"
    assert config.docker.pgdata_tmpfs is False
    assert config.personas["anon"] == Persona(role="anon")
    assert config.personas["student"].user == "student@school.test"
    assert config.personas["student"].role is None
    assert config.personas["student"].claims == {"aal": "aal2", "is_anonymous": False}
    assert config.cache.enabled is False
    assert config.cache.dir == tmp_path / ".cache" / "rlsguard"


def test_tool_table_in_pyproject(tmp_path: Path) -> None:
    project(
        tmp_path,
        {
            "pyproject.toml": """\
                [project]
                name = "demo"

                [tool.rlsguard]
                backend = "docker"
                supabase_dir = "infra/supabase"

                [tool.rlsguard.postgres]
                max_connections = 12

                [tool.rlsguard.personas.admin]
                user = "admin@school.test"
                claims = { app_metadata = { role = "admin" } }
            """
        },
    )
    config = load_config(tmp_path)
    assert config.source == tmp_path / "pyproject.toml"
    assert config.backend == "docker"
    assert config.supabase_dir == tmp_path / "infra" / "supabase"
    assert config.postgres.max_connections == 12
    assert config.personas["admin"].claims == {"app_metadata": {"role": "admin"}}


def test_defaults_without_any_file(tmp_path: Path) -> None:
    project(tmp_path, {"pyproject.toml": '[project]\nname = "no-rlsguard-table"\n'})
    config = load_config(tmp_path)
    assert config.source is None
    assert config.backend == "local"
    assert config.supabase_dir == tmp_path / "supabase"
    assert config.matrix == tmp_path / "fixtures" / "rls_matrix.yaml"
    assert config.docker.image == DEFAULT_DOCKER_IMAGE == "supabase/postgres:17.6.1.132"
    assert config.docker.pgdata_tmpfs is True
    assert config.postgres.max_connections == 100
    assert config.redis.persistence == "none"
    assert config.cache.enabled is True
    assert config.cache.dir is None
    assert config.personas == {}


# -- lookup ------------------------------------------------------------------------


def test_found_from_a_subdirectory(tmp_path: Path) -> None:
    project(tmp_path, {"rlsguard.toml": 'backend = "docker"\n'})
    nested = tmp_path / "tests" / "rls"
    nested.mkdir(parents=True)
    config = load_config(nested)
    assert config.source == tmp_path / "rlsguard.toml"
    assert config.supabase_dir == tmp_path / "supabase"  # relative to the file, not to start


def test_lookup_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "rlsguard.toml").write_text('backend = "docker"\n', encoding="utf-8")
    repo = project(tmp_path / "repo", {})
    config = load_config(repo)
    assert config.source is None
    assert config.backend == "local"


def test_a_nearer_supabase_project_wins_over_a_parent_config(tmp_path: Path) -> None:
    """Running inside a sub-project must not silently test the parent's database."""
    project(
        tmp_path,
        {
            "rlsguard.toml": 'backend = "docker"\n',
            "supabase/config.toml": "",
            "examples/shop/supabase/migrations/1_init.sql": "",
        },
    )
    shop = tmp_path / "examples" / "shop"
    (shop / "src").mkdir()
    with pytest.warns(ConfigWarning, match=r"rlsguard\.toml is not used: .*shop/supabase"):
        config = load_config(shop / "src")
    assert config.source is None
    assert config.backend == "local"
    assert config.supabase_dir == shop / "supabase"
    # Outside the sub-project the parent's config applies as before.
    assert load_config(tmp_path / "examples").source == tmp_path / "rlsguard.toml"


def test_a_parent_config_naming_the_nearer_project_is_kept(tmp_path: Path) -> None:
    project(
        tmp_path,
        {
            "rlsguard.toml": 'backend = "docker"\nsupabase_dir = "apps/web/supabase"\n',
            "apps/web/supabase/config.toml": "",
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load_config(tmp_path / "apps" / "web")
    assert config.source == tmp_path / "rlsguard.toml"
    assert config.backend == "docker"
    assert config.supabase_dir == tmp_path / "apps" / "web" / "supabase"


def test_supabase_dir_pins_lookup_to_its_parent(tmp_path: Path) -> None:
    project(
        tmp_path,
        {
            "rlsguard.toml": 'backend = "docker"\n',
            "app/rlsguard.toml": 'backend = "dsn"\nsupabase_dir = "elsewhere"\n',
        },
    )
    (tmp_path / "app" / "supabase").mkdir()
    config = load_config(supabase_dir=tmp_path / "app" / "supabase")
    assert config.source == tmp_path / "app" / "rlsguard.toml"
    assert config.backend == "dsn"
    # The explicit folder (--supabase-dir) wins over the file's supabase_dir.
    assert config.supabase_dir == tmp_path / "app" / "supabase"


def test_supabase_dir_without_a_config_beside_it(tmp_path: Path) -> None:
    project(tmp_path, {"rlsguard.toml": 'backend = "docker"\n'})
    config = load_config(supabase_dir=tmp_path / "app" / "supabase")
    assert config.source is None  # the parent's parent is not searched
    assert config.backend == "local"
    assert config.supabase_dir == tmp_path / "app" / "supabase"
    assert config.matrix == tmp_path / "app" / "fixtures" / "rls_matrix.yaml"


def test_rlsguard_toml_wins_and_the_ignored_table_is_named(tmp_path: Path) -> None:
    project(
        tmp_path,
        {
            "rlsguard.toml": 'backend = "docker"\n',
            "pyproject.toml": '[tool.rlsguard]\nbackend = "dsn"\n',
        },
    )
    with pytest.warns(ConfigWarning, match=r"\[tool\.rlsguard\] in .*pyproject\.toml is ignored"):
        config = load_config(tmp_path)
    assert config.source == tmp_path / "rlsguard.toml"
    assert config.backend == "docker"


def test_no_warning_when_pyproject_has_no_table(tmp_path: Path) -> None:
    project(
        tmp_path,
        {"rlsguard.toml": 'backend = "docker"\n', "pyproject.toml": '[project]\nname = "x"\n'},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_config(tmp_path).backend == "docker"


def test_config_file_named_directly(tmp_path: Path) -> None:
    project(tmp_path, {"ci/gate.toml": 'backend = "dsn"\nmatrix = "m.yaml"\n'})
    config = load_config(tmp_path / "ci" / "gate.toml")
    assert config.source == tmp_path / "ci" / "gate.toml"
    assert config.matrix == tmp_path / "ci" / "m.yaml"


def test_pyproject_named_directly_must_have_the_table(tmp_path: Path) -> None:
    project(tmp_path, {"pyproject.toml": '[project]\nname = "x"\n'})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "pyproject.toml")
    assert info.value.key == "tool.rlsguard"
    assert "no [tool.rlsguard]" in info.value.reason


# -- errors ------------------------------------------------------------------------


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    err = config_error(tmp_path, "[postgres]\nmax_conections = 5\n")
    assert err.path == str(tmp_path / "rlsguard.toml")
    assert err.key == "postgres.max_conections"
    assert err.reason == "unknown key; did you mean 'max_connections'?"
    assert str(err) == f"{err.path}: postgres.max_conections: {err.reason}"


def test_unknown_key_lists_known_ones_when_nothing_is_close(tmp_path: Path) -> None:
    err = config_error(tmp_path, "[redis]\nzzz = 1\n")
    assert err.key == "redis.zzz"
    assert "known keys: persistence" in err.reason


def test_unknown_key_inside_pyproject_uses_the_full_dotted_key(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "[tool.rlsguard.postgres]\nmax_connection = 5\n", name="pyproject.toml"
    )
    assert err.path == str(tmp_path / "pyproject.toml")
    assert err.key == "tool.rlsguard.postgres.max_connection"


def test_wrong_type(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, '[tool.rlsguard.postgres]\nmax_connections = "many"\n', "pyproject.toml"
    )
    assert err.key == "tool.rlsguard.postgres.max_connections"
    assert "valid integer" in err.reason
    assert "'many'" in err.reason


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    err = config_error(tmp_path, "postgres = 3\n")
    assert err.key == "postgres"
    assert err.reason == "must be a table, not an integer"


def test_tool_rlsguard_that_is_not_a_table(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[tool]\nrlsguard = "yes"\n', "pyproject.toml")
    assert err.key == "tool.rlsguard"
    assert "must be a table" in err.reason


def test_out_of_range(tmp_path: Path) -> None:
    err = config_error(tmp_path, "[postgres]\nmax_connections = 0\n")
    assert err.key == "postgres.max_connections"
    assert "greater than or equal to 5" in err.reason


def test_bad_enum(tmp_path: Path) -> None:
    err = config_error(tmp_path, 'backend = "podman"\n')
    assert err.key == "backend"
    assert "'local', 'dsn' or 'docker'" in err.reason
    assert "'podman'" in err.reason


def test_bad_persona_role(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[personas.student]\nrole = "admin"\n')
    assert err.key == "personas.student.role"
    assert "'anon', 'authenticated' or 'service_role'" in err.reason


def test_persona_with_role_and_user(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[personas.student]\nrole = "anon"\nuser = "s@school.test"\n')
    assert err.key == "personas.student.role"
    assert "either role or user, not both" in err.reason


def test_persona_with_neither_role_nor_user(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[personas.student]\nclaims = { aal = "aal2" }\n')
    assert err.key == "personas.student.role"
    assert "needs a role" in err.reason


def test_persona_user_must_be_an_email(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[personas.student]\nuser = "student"\n')
    assert err.key == "personas.student.user"
    assert "'student' is not an email address" in err.reason


def test_persona_claims_cannot_override_role(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, '[personas.x]\nrole = "anon"\nclaims = { role = "service_role" }\n'
    )
    assert err.key == "personas.x.claims.role"


def test_persona_unknown_key(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[personas.x]\nrole = "anon"\nclaim = {}\n')
    assert err.key == "personas.x.claim"
    assert "did you mean 'claims'?" in err.reason


def test_persona_name_is_quoted_when_not_a_bare_key(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[personas."head teacher"]\nrole = "anon"\n')
    assert err.key == 'personas."head teacher"'


def test_reserved_and_malformed_settings(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[postgres.settings]\nlisten_addresses = "*"\n')
    assert err.key == "postgres.settings.listen_addresses"
    assert "set by rlsguard" in err.reason
    err = config_error(tmp_path, '[postgres.settings]\n"work mem" = "1MB"\n')
    assert err.key == 'postgres.settings."work mem"'


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    err = config_error(tmp_path, 'backend = "podman"\n[redis]\npersistence = "always"\n')
    assert err.key == "backend"
    assert "redis.persistence" in err.reason


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('backend = "local"\nmatrix = = "x"\n', 2, 10),
        ('backend = "local"\n[postgres\n', 2, 10),
        ('personas = { a = { role = "anon" }\n', 1, 35),
        ('backend = "local"\nx = [1,\n', 3, 1),
    ],
)
def test_toml_syntax_error_gives_line_and_column(
    tmp_path: Path, text: str, line: int, column: int
) -> None:
    err = config_error(tmp_path, text)
    assert err.path == str(tmp_path / "rlsguard.toml")
    assert err.key == ""
    assert re.match(
        rf"invalid TOML at line {line}, column {column}( \(end of file\))?: \w", err.reason
    )


def test_toml_syntax_error_in_pyproject(tmp_path: Path) -> None:
    err = config_error(tmp_path, "[tool.rlsguard\n", "pyproject.toml")
    assert err.path == str(tmp_path / "pyproject.toml")
    assert err.reason.startswith("invalid TOML at line 1, column 15")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    project(tmp_path, {})
    (tmp_path / "rlsguard.toml").write_bytes(b'backend = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path)


# -- the model itself --------------------------------------------------------------


def test_every_field_is_documented_for_the_json_schema() -> None:
    schema = ProjectConfig.model_json_schema()
    json.dumps(schema)  # serialisable
    tables = [schema, *schema["$defs"].values()]
    undocumented = [
        f"{table['title']}.{name}"
        for table in tables
        for name, prop in table["properties"].items()
        if not prop.get("description")
    ]
    assert undocumented == []
    assert all(table.get("additionalProperties") is False for table in tables)


def test_config_is_immutable() -> None:
    config = ProjectConfig()
    with pytest.raises(ValueError, match="frozen"):
        config.backend = "dsn"  # type: ignore[misc]


def test_paths_stay_as_given_without_a_file() -> None:
    config = ProjectConfig(supabase_dir=Path("x/supabase"))
    assert config.supabase_dir == Path("x/supabase")
    assert config.source is None


# -- [lint] waivers ----------------------------------------------------------------


def test_lint_waivers(tmp_path: Path) -> None:
    project(
        tmp_path,
        {
            "rlsguard.toml": """\
                [[lint.waivers]]
                rule = "multiple_permissive_policies"
                object = "public.users"
                reason = "three SELECT policies read better than one; measured: no slowdown"

                [[lint.waivers]]
                rule = "rls_enabled_no_policy"
                object = "private.*"
                reason = "backend-only tables"
            """
        },
    )
    waivers = load_config(tmp_path).lint.waivers
    assert [(w.rule, w.object) for w in waivers] == [
        ("multiple_permissive_policies", "public.users"),
        ("rls_enabled_no_policy", "private.*"),
    ]
    assert waivers[1].reason == "backend-only tables"
    assert ProjectConfig().lint.waivers == ()


def test_lint_waiver_needs_a_reason(tmp_path: Path) -> None:
    error = config_error(
        tmp_path,
        """\
        [[lint.waivers]]
        rule = "rls_enabled_no_policy"
        object = "public.audit_log"
        """,
    )
    assert error.key == "lint.waivers.0.reason"


def test_lint_waiver_unknown_key_suggests(tmp_path: Path) -> None:
    error = config_error(
        tmp_path,
        """\
        [[lint.waivers]]
        rule = "rls_enabled_no_policy"
        obejct = "public.audit_log"
        reason = "x"
        """,
    )
    assert "did you mean 'object'" in error.reason


# -- [pgtap] -----------------------------------------------------------------------


def test_pgtap_section(tmp_path: Path) -> None:
    (tmp_path / "rlsguard.toml").write_text(
        '[pgtap]\ntests = "db/tests"\nimplementation = "rlsguard"\nschema = "tap"\n'
    )
    config = load_config(tmp_path)
    assert config.pgtap.tests == (tmp_path / "db" / "tests").resolve()
    assert (config.pgtap.implementation, config.pgtap.schema_) == ("rlsguard", "tap")
    (tmp_path / "rlsguard.toml").write_text('[pgtap]\nimplementation = "docker"\n')
    with pytest.raises(ConfigError, match=r"pgtap\.implementation"):
        load_config(tmp_path)


def test_stand_ins_is_a_list_or_all(tmp_path: Path) -> None:
    (tmp_path / "rlsguard.toml").write_text('stand_ins = ["http", "pg_net"]\n')
    assert load_config(tmp_path).stand_ins == ("http", "pg_net")
    (tmp_path / "rlsguard.toml").write_text('stand_ins = "all"\n')
    assert load_config(tmp_path).stand_ins == ("all",)
    (tmp_path / "rlsguard.toml").write_text('stand_ins = ["pg net"]\n')
    with pytest.raises(ConfigError, match="stand_ins: 'pg net' is not an extension name"):
        load_config(tmp_path)


def test_an_unknown_stand_in_names_the_file_and_the_closest(tmp_path: Path) -> None:
    from rlsguard.harness.engine import Engine, EngineOptions

    (tmp_path / "rlsguard.toml").write_text('stand_ins = ["htp"]\n')
    engine = Engine(load_config(tmp_path), EngineOptions())
    with pytest.raises(ConfigError) as info:
        _ = engine.stand_ins
    assert str(tmp_path / "rlsguard.toml") in str(info.value)
    assert "stand_ins: no stand-in exists for htp (did you mean 'http'?)" in str(info.value)
    engine = Engine(ProjectConfig(), EngineOptions(stand_ins=("vector",)))
    assert engine.stand_ins.extensions == {"vector"}


# -- the one merge: command line over environment over the file ---------------------------


def test_overrides_command_line_over_environment_over_file(tmp_path: Path) -> None:
    from rlsguard.config import EngineOptions

    (tmp_path / "rlsguard.toml").write_text(
        'backend = "dsn"\ndsn = "postgresql://file/db"\nallow_destructive = "file:5432/db"\n'
    )
    config = load_config(tmp_path)
    env = {"RLSGUARD_DSN": "postgresql://env/db", "RLSGUARD_ALLOW_DESTRUCTIVE": "env:5432/db"}
    merged = EngineOptions().apply(config, env=env)
    assert (merged.backend, merged.dsn, merged.allow_destructive) == (
        "dsn", "postgresql://env/db", "env:5432/db",
    )  # fmt: skip
    merged = EngineOptions(backend="local", dsn="postgresql://cli/db", no_cache=True).apply(
        config, env={**env, "RLSGUARD_BACKEND": "docker"}
    )
    assert (merged.backend, merged.dsn, merged.allow_destructive) == (
        "local", "postgresql://cli/db", "env:5432/db",
    )  # fmt: skip
    assert merged.cache.enabled is False
    assert merged.source == config.source  # errors still name the file
    assert EngineOptions().apply(config, env={}) is config


def test_a_bad_backend_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    from rlsguard.config import EngineOptions

    with pytest.raises(ConfigError, match="RLSGUARD_BACKEND: backend: 'dokcer' is not a backend"):
        EngineOptions().apply(load_config(tmp_path), env={"RLSGUARD_BACKEND": "dokcer"})
