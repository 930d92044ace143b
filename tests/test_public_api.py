"""``from rlsguard import ...`` gives exactly what the README's "Python API" lists, lazily."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import rlsguard

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_names() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    listing = re.findall(r"^(?:- |  )(.*)$", section, re.M)  # the bullet list and its wraps
    names: list[str] = []
    for line in listing:
        names += re.findall(r"`([A-Za-z_][A-Za-z_0-9]*)`", line.split(":", 1)[-1])
    return names


def test_all_is_the_documented_list() -> None:
    names = documented_names()
    assert len(names) == len(set(names)), "a name is listed twice in the README"
    assert sorted(rlsguard.__all__) == sorted(names)


def test_every_public_name_resolves_and_is_the_one_object() -> None:
    import rlsguard.errors
    import rlsguard.identity.session

    for name in rlsguard.__all__:
        assert getattr(rlsguard, name) is not None, name
    assert rlsguard.Session is rlsguard.identity.session.Session
    assert rlsguard.RlsguardError is rlsguard.errors.RlsguardError
    assert "Session" in dir(rlsguard)


def test_every_error_and_warning_is_public() -> None:
    import inspect

    import rlsguard.errors as errors

    classes = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    assert classes <= set(rlsguard.__all__)


def test_import_rlsguard_loads_nothing_heavy() -> None:
    code = (
        "import sys, rlsguard; "
        "print(sorted(m for m in ('psycopg', 'pydantic', 'pglast', 'typing', 'rlsguard.errors') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_readme_examples_import_only_from_rlsguard() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    imports = [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if re.match(r"\s*(from|import) rlsguard", line)
    ]
    assert imports, "the README has Python examples"
    assert [i for i in imports if not i.startswith("from rlsguard import ")] == []


def test_no_lazy_export_is_shadowed_by_a_submodule() -> None:
    # Importing rlsguard.x.y sets attribute y on rlsguard.x: an export named y would vanish.
    import importlib

    for package in ("rlsguard", "rlsguard.audit", "rlsguard.gate", "rlsguard.matrix",
                    "rlsguard.policy", "rlsguard.stack"):  # fmt: skip
        module = importlib.import_module(package)
        folder = Path(module.__file__ or "").parent
        submodules = {p.stem for p in folder.glob("*.py")} | {
            p.name for p in folder.iterdir() if (p / "__init__.py").is_file()
        }
        assert set(module.__all__) & submodules == set(), package
