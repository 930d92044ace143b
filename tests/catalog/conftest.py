"""The catalog is read from the policy tests' courses project (its fixtures, shared)."""

from tests.policy.conftest import (  # noqa: F401 - fixtures, found by name
    clone_of,
    courses_dir,
    courses_engine,
    policy_config,
    workspace,
)
