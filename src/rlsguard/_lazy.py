"""The one facade mechanism: a package names what it exports, modules load on first use.

``import rlsguard`` (or ``rlsguard.stack``) must stay cheap: server children such as the
SMTP sink import the package and must not pay for psycopg, pglast or pydantic.
"""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False  # typing itself costs more than this whole package at import
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``; ``exports`` maps name -> module.

    A module is given relative to ``package`` (``"run"``) or absolute (``"rlsguard.errors"``).
    """

    def __getattr__(name: str) -> Any:
        where = exports.get(name)
        if where is None:
            # The module protocol: a missing attribute is an AttributeError, nothing else.
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(where if "." in where else f"{package}.{where}")
        value = getattr(module, name)
        setattr(sys.modules[package], name, value)  # the next lookup skips this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
