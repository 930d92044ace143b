"""The doctor's backend check: what the merged config chooses, without writing anything."""

from __future__ import annotations

import pytest

from rlsguard.config import ProjectConfig
from rlsguard.harness.doctor import check_backend
from rlsguard.stack.net import free_port


def dsn_config(dsn: str | None) -> ProjectConfig:
    return ProjectConfig().model_copy(update={"backend": "dsn", "dsn": dsn})


def test_a_dsn_backend_without_a_url_fails_with_what_to_do() -> None:
    check = check_backend(dsn_config(None))
    assert (check.status, check.summary) == (
        "fail", "dsn: no connection URL (set dsn, RLSGUARD_DSN or --dsn)",
    )  # fmt: skip


def test_an_unset_variable_in_the_dsn_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLSGUARD_TEST_NOPE", raising=False)
    check = check_backend(dsn_config("postgresql://x@127.0.0.1/${RLSGUARD_TEST_NOPE}"))
    assert check.status == "fail"
    assert "${RLSGUARD_TEST_NOPE}, which is not set" in check.summary


def test_a_server_that_does_not_answer_fails_with_the_target() -> None:
    port = free_port()
    check = check_backend(dsn_config(f"postgresql://x@127.0.0.1:{port}/db"), timeout=0.2)
    assert check.status == "fail"
    assert f"127.0.0.1:{port}/db" in check.summary
