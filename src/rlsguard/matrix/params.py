"""Parameters in oracle predicates and insert candidates: ``:uid``, ``:app.school_id``...

A parameter names a value of the persona's request, read from its JWT claims:

==================  ===========================================================
``:uid``            the ``sub`` claim (the user's id); NULL for anon/service_role
``:email``          the ``email`` claim
``:phone``          the ``phone`` claim
``:role``           the database role the request runs as
``:claim.<path>``   any claim, by dotted path (``:claim.aal``, ``:claim.amr``)
``:app.<path>``     ``app_metadata.<path>`` (``:app.school_id``, ``:app.roles``)
``:user.<path>``    ``user_metadata.<path>``
==================  ===========================================================

Each parameter becomes an SQL string literal of unknown type (``'...'``),
which Postgres coerces to the type the context wants (``owner_id = :uid``
compares uuids), or ``NULL`` when the claim is absent. Objects and arrays
become their JSON text. Cast where the context does not fix a type
(``:app.level::int > 3``). ``::`` casts, ``:=`` and text inside quotes or
comments are never parameters.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SIMPLE = ("uid", "email", "phone", "role")
PREFIXES = ("claim", "app", "user")
_PARAM = re.compile(r"(?<![:\w$]):([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)")
_WHOLE_PARAM = re.compile(r"^:([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)$")
# The oracle runs as the superuser without a request: these would all read NULL.
_REQUEST_FUNCTIONS = re.compile(r"\bauth\s*\.\s*(uid|jwt|role|email)\s*\(", re.IGNORECASE)
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class ParamRef:
    """One parameter occurrence in an SQL text."""

    name: str
    start: int
    end: int


def code_mask(text: str) -> str:
    """``text`` with the insides of strings, quoted identifiers and comments blanked out.

    Same length as ``text``, so positions found in the mask are positions in the text.
    """
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif c == "/" and text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c == "'":
            escapes = i > 0 and text[i - 1] in "eE" and (i < 2 or not _word(text[i - 2]))
            j = i + 1
            while j < n:
                if escapes and text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            blank(i + 1, j)
            i = j + 1
        elif c == '"':
            j = i + 1
            while j < n:
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        j += 2
                        continue
                    break
                j += 1
            blank(i + 1, j)
            i = j + 1
        elif c == "$" and (i == 0 or not _word(text[i - 1])):
            match = _DOLLAR_TAG.match(text, i)
            if match is None:
                i += 1
                continue
            close = text.find(match.group(0), match.end())
            close = n if close < 0 else close
            blank(match.end(), close)
            i = close + len(match.group(0))
        else:
            i += 1
    return "".join(out)


def _word(c: str) -> bool:
    return c.isalnum() or c in "_$"


@functools.lru_cache(maxsize=4096)
def find_params(text: str) -> tuple[ParamRef, ...]:
    """Every parameter in an SQL text, in order (cached: each predicate serves many personas)."""
    return tuple(ParamRef(m[1], m.start(), m.end()) for m in _PARAM.finditer(code_mask(text)))


def request_functions(text: str) -> list[str]:
    """``auth.uid()``-style calls, which the oracle cannot answer (it runs without a request)."""
    return [f"auth.{m[1].lower()}()" for m in _REQUEST_FUNCTIONS.finditer(code_mask(text))]


def whole_param(value: Any) -> str | None:
    """The parameter a candidate value *is* (``":uid"`` -> ``"uid"``), else None."""
    if isinstance(value, str):
        match = _WHOLE_PARAM.match(value)
        if match:
            return match[1]
    return None


def check_name(name: str) -> str | None:
    """Why ``name`` is not a parameter, or None when it is one."""
    head, _, rest = name.partition(".")
    if head in SIMPLE and not rest:
        return None
    if head in PREFIXES and rest:
        return None
    if head in PREFIXES:
        return f"':{head}' needs a path, e.g. ':{head}.school_id'"
    known = ", ".join([*(f":{s}" for s in SIMPLE), *(f":{p}.<path>" for p in PREFIXES)])
    close = difflib.get_close_matches(head, [*SIMPLE, *PREFIXES], n=1, cutoff=0.6)
    if close and close[0] in SIMPLE and not rest:
        hint = f"; did you mean ':{close[0]}'?"
    elif close and close[0] in PREFIXES:
        hint = f"; did you mean ':{close[0]}.{rest or '<path>'}'?"
    else:
        hint = f"; did you mean ':app.{name}'?" if head not in SIMPLE else ""
    return f"unknown parameter ':{name}' (known: {known}){hint}"


def substitute(text: str, literal: Callable[[str], str]) -> str:
    """``text`` with each parameter replaced by ``literal(name)``."""
    parts: list[str] = []
    last = 0
    for ref in find_params(text):
        parts.append(text[last : ref.start])
        parts.append(literal(ref.name))
        last = ref.end
    parts.append(text[last:])
    return "".join(parts)


def lookup(name: str, role: str, claims: Mapping[str, Any]) -> Any:
    """The value of parameter ``name`` for a request with this role and these claims."""
    head, _, rest = name.partition(".")
    if head == "uid":
        return claims.get("sub")
    if head == "role":
        return role
    if head in ("email", "phone"):
        return claims.get(head)
    root: Any = {
        "claim": claims,
        "app": claims.get("app_metadata") or {},
        "user": claims.get("user_metadata") or {},
    }[head]
    for part in rest.split("."):
        if not isinstance(root, Mapping) or part not in root:
            return None
        root = root[part]
    return root


def as_text(value: Any) -> str | None:
    """How a value travels to SQL: text (JSON for objects/arrays), or None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def sql_literal(value: str | None) -> str:
    """A standard-conforming SQL string literal of unknown type, or NULL."""
    if value is None:
        return "NULL"
    quoted = "'" + value.replace("'", "''") + "'"
    # E'' reads the same whatever standard_conforming_strings says.
    return "E" + quoted.replace("\\", "\\\\") if "\\" in value else quoted
