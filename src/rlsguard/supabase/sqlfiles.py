"""The SQL shipped as package data (``rlsguard/supabase/sql``), read once."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def load(name: str) -> str:
    """The text of ``sql/<name>`` (``name`` may contain a ``/``)."""
    node = resources.files("rlsguard.supabase").joinpath("sql")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")
