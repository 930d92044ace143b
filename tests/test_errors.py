"""Every deliberate error is an RlsguardError from rlsguard.errors; warnings read as one line."""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import warnings
from pathlib import Path

import pytest

import rlsguard.errors as errors
from rlsguard.errors import (
    ConfigWarning,
    FidelityWarning,
    RlsguardError,
    RlsguardWarning,
    format_warning,
    warn,
)

SRC = Path(errors.__file__).parent

# Raises of builtin exceptions that are protocol, not errors: each with its reason.
ALLOWED_BUILTIN_RAISES = [
    # Exit codes of the entry point: 130 after a Ctrl-C, 2 after an RlsguardError's one line.
    ("__main__.py", "main", "SystemExit"),  # the exit code a running `rlsguard dev` answered
    ("__main__.py", "main", "SystemExit"),
    # A module __getattr__ must raise AttributeError for a missing name (PEP 562).
    ("_lazy.py", "__getattr__", "AttributeError"),
    # pydantic validators signal a bad value with ValueError (it becomes a ConfigError).
    ("authservice/settings.py", "_known_requirement", "ValueError"),
    ("authservice/settings.py", "_redis_needs_url", "ValueError"),
    ("cli/__init__.py", "run", "SystemExit"),
    ("cli/__init__.py", "run", "SystemExit"),  # an OSError (the environment): exit 2 too
    # tar's failure as the OSError the tarfile fallback raises: the template cache tells a
    # full disk (run uncached) from the rest by its errno, for both ways of writing.
    ("stack/postgres.py", "archive_datadir", "OSError"),
]

# Exception classes that are not errors for the user: the reference auth service's HTTP
# answers, raised inside a request and turned into GoTrue's JSON body before they leave it.
ALLOWED_EXCEPTION_CLASSES = [
    "authservice/errors.py ApiError",
    "authservice/errors.py OAuthError",
    # A fail-closed rate limiter's "cannot decide": the service answers it with a 503.
    "authservice/redislimit.py LimiterUnavailable",
    "authservice/routes.py _GatewayError",
]


class _Raises(ast.NodeVisitor):
    """Each ``raise`` of a builtin exception class, with the function it is in."""

    def __init__(self, where: str) -> None:
        self.where, self.scope, self.found = where, "<module>", []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.scope = self.scope, node.name
        self.generic_visit(node)
        self.scope = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.exc is None:
            return  # a bare ``raise`` re-raises what was caught
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and _is_exception(getattr(builtins, exc.id, None)):
            self.found.append((self.where, self.scope, exc.id))


def _builtin_raises() -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for path, tree in _trees():
        visitor = _Raises(path.relative_to(SRC).as_posix())
        visitor.visit(tree)
        found += visitor.found
    return found


@functools.cache
def _trees() -> tuple[tuple[Path, ast.Module], ...]:
    """Every source file of the package, parsed once for all the scans here."""
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(SRC.rglob("*.py"))
    )


def _is_exception(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


def test_no_builtin_exception_is_raised_on_purpose() -> None:
    assert _builtin_raises() == ALLOWED_BUILTIN_RAISES


def test_exception_classes_live_in_errors_and_derive_from_the_bases() -> None:
    stray = []
    for path, tree in _trees():
        if path == Path(errors.__file__):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                if any(_is_exception(getattr(builtins, b, None)) for b in bases) or any(
                    _is_exception(getattr(errors, b, None)) for b in bases
                ):
                    stray.append(f"{path.relative_to(SRC).as_posix()} {node.name}")
    assert stray == ALLOWED_EXCEPTION_CLASSES
    for name, value in vars(errors).items():
        if inspect.isclass(value) and issubclass(value, BaseException) and not name.startswith("_"):
            assert issubclass(value, RlsguardError | RlsguardWarning), name


def test_the_docstring_draws_every_error_and_warning() -> None:
    drawn = set()
    for line in (errors.__doc__ or "").splitlines():
        words = line.lstrip(" │├└─").split()
        if line.startswith("    ") and words:
            drawn.add(words[0])
    classes = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    assert classes <= drawn, classes - drawn


def test_the_old_builtin_bases_still_catch() -> None:
    # Callers that caught ValueError/RuntimeError/KeyError/TimeoutError still do.
    assert issubclass(errors.InvalidArgument, ValueError)
    assert issubclass(errors.SqlNormalizationError, ValueError)
    assert issubclass(errors.MisuseError, RuntimeError)
    assert issubclass(errors.UnknownCell, KeyError)
    assert issubclass(errors.WaitTimeout, TimeoutError)


def test_a_warning_names_the_users_file_not_rlsguard_source(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text("[project]\nname = 'x'\n[tool.rlsguard]\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("ignored: use one file", ConfigWarning, file=config, line=3)
    [record] = caught
    assert record.filename == str(config)
    assert record.lineno == 3
    assert issubclass(record.category, ConfigWarning)


def test_format_warning_is_one_line_with_the_users_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    line = format_warning("a\n  b", ConfigWarning, str(tmp_path / "rlsguard.toml"), 4, "x = 1")
    assert line == "rlsguard.toml:4: warning: a b\n"
    assert format_warning("no file", FidelityWarning, "<rlsguard>", 0) == "warning: no file\n"
    other = format_warning("python's own", UserWarning, "/x/y.py", 7, "code()")
    assert other.startswith("/x/y.py:7: UserWarning: python's own")


def test_warnings_filters_still_turn_rlsguard_warnings_into_errors() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FidelityWarning)
        with pytest.raises(FidelityWarning, match="differs"):
            warn("this server differs", FidelityWarning)
