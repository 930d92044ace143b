"""The access matrix: which rows each persona may select, insert, update and delete.

Public API (imported lazily, so ``import rlsguard.matrix`` stays cheap for the pytest plugin):

- :func:`load_matrix` / :func:`parse_matrix` -> :class:`Matrix` (or :class:`MatrixError`);
- :func:`check_matrix` / :class:`Checker` -> :class:`MatrixRun` of :class:`CellResult`;
- :func:`explain` (one cell as text); :mod:`.record` writes a starter file;
- :func:`json_schema` (the file format).
"""

from __future__ import annotations

from rlsguard._lazy import lazy_exports

_EXPORTS = {
    "Cell": "load",
    "Matrix": "load",
    "MatrixError": "rlsguard.errors",
    "Problem": "rlsguard.errors",
    "load_matrix": "load",
    "parse_matrix": "load",
    "Checker": "check",
    "check_matrix": "check",
    "CellResult": "results",
    "MatrixRun": "results",
    "explain": "report",
    "summary": "report",
    "json_schema": "model",
    "MatrixSpec": "model",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
