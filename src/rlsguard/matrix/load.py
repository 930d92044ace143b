"""Read an access matrix file: YAML -> validated :class:`Matrix`, or errors a human can act on.

Every problem names the file, the line, the dotted key as written
(``tables.public.notes.select.alice``, list items as ``[i]``) and the reason.
What can be checked without a database is checked here: YAML syntax,
duplicate keys, the schema, persona names against the project, parameter
names, predicate syntax. What needs the database (tables, columns, types)
is checked by the checker, which reports through the same :class:`Problem`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rlsguard.errors import ConfigError
from rlsguard.matrix import params
from rlsguard.matrix.model import (
    CELL_OPERATIONS,
    CHANGES,
    OPERATIONS,
    ROW_OPERATIONS,
    Candidate,
    Change,
    KeyList,
    MatrixSpec,
    TableSpec,
    Where,
)

PathPart = str | int


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a matrix file."""

    file: str
    key: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.reason}" if self.key else f"{where}: {self.reason}"


class MatrixError(ConfigError):
    """A matrix file is invalid; lists every problem found (file, line, dotted key, reason)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("a MatrixError needs at least one problem")
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(first.file, first.key, first.reason)
        self.line = first.line
        self.args = ("\n".join(str(p) for p in self.problems),)


def dotted(path: Iterable[PathPart]) -> str:
    """``("tables", "public.notes", "insert", "candidates", 0)`` -> ``tables...candidates[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass(frozen=True)
class Cell:
    """One persona x table x operation: one pytest item, one comparison.

    ``operation`` is select, insert, update, delete, or ``changes`` (updates that change
    rows, checked against ``changes.accept``).
    """

    persona: str
    table: str
    operation: str

    @property
    def id(self) -> str:
        return f"{self.persona}-{self.table}-{self.operation}"

    @property
    def key(self) -> str:
        """The dotted key of this cell's expectation in the file."""
        if self.operation in ("insert", CHANGES):
            return f"tables.{self.table}.{self.operation}.accept.{self.persona}"
        return f"tables.{self.table}.{self.operation}.{self.persona}"


@dataclass(frozen=True)
class Expectation:
    """What a cell expects: ``all``, ``none``, ``where`` (a predicate), ``keys`` or ``accept``."""

    kind: str
    where: str | None = None
    keys: tuple[tuple[Any, ...], ...] = ()
    accept: frozenset[int] = frozenset()


@dataclass
class Matrix:
    """A loaded access matrix: the validated file plus where each key was written."""

    spec: MatrixSpec
    source: Path | None = None
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return str(self.source) if self.source else "(matrix)"

    @property
    def personas(self) -> list[str]:
        return list(self.spec.personas)

    def table(self, name: str) -> TableSpec:
        return self.spec.tables[name]

    def line(self, key: str) -> int | None:
        """The line of ``key``, or of its nearest written parent."""
        while key:
            if key in self.lines:
                return self.lines[key]
            cut = max(key.rfind("."), key.rfind("["))
            key = key[:cut] if cut > 0 else ""
        return None

    def problem(self, key: str, reason: str) -> Problem:
        return Problem(self.file, key, reason, self.line(key))

    def cells(self) -> list[Cell]:
        """Every cell the file speaks for: by table, operation, then the order of ``personas``."""
        found: list[Cell] = []
        for table, spec in self.spec.tables.items():
            for operation in CELL_OPERATIONS:
                entries = _entries(spec, operation)
                found.extend(Cell(p, table, operation) for p in self.spec.personas if p in entries)
        return found

    def expectation(self, cell: Cell) -> Expectation:
        spec = self.spec.tables[cell.table]
        if cell.operation in ("insert", CHANGES):
            section = _section(spec, cell.operation)
            accept = section.accept[cell.persona]
            return Expectation(
                "accept", accept=_accepted(spec, cell.persona, accept, cell.operation)
            )
        value = _entries(spec, cell.operation)[cell.persona]
        if isinstance(value, KeyList):
            return Expectation("keys", keys=tuple(_key_tuple(k) for k in value.keys))
        if isinstance(value, Where):
            return Expectation("where", where=value.where)
        if value in ("all", "none"):
            return Expectation(value)
        return Expectation("where", where=value)


def _entries(spec: TableSpec, operation: str) -> Mapping[str, Any]:
    if operation in ("insert", CHANGES):
        section = getattr(spec, operation)
        return section.accept if section is not None else {}
    return getattr(spec, operation) or {}


def _section(spec: TableSpec, operation: str) -> Any:
    """The ``insert:`` or ``changes:`` section (candidates and accept) of a table."""
    section = getattr(spec, operation)
    assert section is not None, f"the table has no {operation}: section"
    return section


def _key_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def tried(spec: TableSpec, persona: str, operation: str = "insert") -> list[int]:
    """Indexes of the candidates ``persona`` tries (a candidate's personas: may narrow it).

    ``operation`` is ``insert`` (candidate rows) or ``changes`` (candidate changes).
    """
    return [
        i
        for i, c in enumerate(_section(spec, operation).candidates)
        if c.personas is None or persona in c.personas
    ]


def _accepted(spec: TableSpec, persona: str, accept: Any, operation: str) -> frozenset[int]:
    if accept == "all":
        return frozenset(tried(spec, persona, operation))
    if accept == "none":
        return frozenset()
    candidates = _section(spec, operation).candidates
    names = {c.name: i for i, c in enumerate(candidates) if c.name is not None}
    return frozenset(ref if isinstance(ref, int) else names[ref] for ref in accept)


# -- reading ---------------------------------------------------------------------------


def load_matrix(path: Path | str, personas: Iterable[str] | None = None) -> Matrix:
    """Read and validate a matrix file; ``personas`` are the project's persona names.

    Raises :class:`MatrixError` listing every problem found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MatrixError([Problem(str(path), "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MatrixError([Problem(str(path), "", f"cannot be read: {exc}")]) from None
    return parse_matrix(text, source=path, personas=personas)


def parse_matrix(
    text: str, *, source: Path | None = None, personas: Iterable[str] | None = None
) -> Matrix:
    """Validate matrix YAML text (``source`` is only used in messages)."""
    file = str(source) if source else "(matrix)"
    data, lines = _read_yaml(text, file)
    if data is None:
        raise MatrixError([Problem(file, "", "the file is empty; it needs personas: and tables:")])
    if not isinstance(data, dict):
        raise MatrixError([Problem(file, "", "expected a mapping with personas: and tables:", 1)])
    try:
        spec = MatrixSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_from_pydantic(err, data, lines, file) for err in exc.errors()]
        raise MatrixError(_unique(problems)) from None
    matrix = Matrix(spec, source, {dotted(k): v for k, v in lines.items()})
    problems = list(check_static(matrix, personas))
    if problems:
        raise MatrixError(problems)
    return matrix


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for problem in problems:
        if (problem.key, problem.reason) not in seen:
            seen.add((problem.key, problem.reason))
            out.append(problem)
    return out


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        self.key, self.line, self.first = key, line, first


def _read_yaml(text: str, file: str) -> tuple[Any, dict[tuple[PathPart, ...], int]]:
    """The document and the 1-based line of every key and list item."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[tuple[PathPart, ...], int] = {}
        _walk(loader, node, (), lines)
        data = loader.construct_document(node)
    except _DuplicateKey as dup:
        reason = f"key {dup.key!r} appears twice (first on line {dup.first}); YAML keeps only one"
        raise MatrixError([Problem(file, "", reason, dup.line)]) from None
    except yaml.MarkedYAMLError as exc:
        raise MatrixError([_yaml_problem(exc, text, file)]) from None
    except yaml.YAMLError as exc:
        raise MatrixError([Problem(file, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return data, lines


def _yaml_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """A YAML syntax error at the key whose value it broke (found by indentation)."""
    problem, context = exc.problem_mark, exc.context_mark
    reason = f"invalid YAML: {exc.problem or 'syntax error'}"
    if problem is not None:
        reason += f" at line {problem.line + 1}, column {problem.column + 1}"
    if exc.context and context is not None:
        reason += f" ({exc.context} on line {context.line + 1})"
    mark = context or problem
    line = mark.line + 1 if mark else None
    return Problem(file, _key_at(text, line) if line else "", reason, line)


_BLOCK_KEY = re.compile(r"^(\s*)(?:-\s+)?([^\s#'\"{\[][^:#]*?|'[^']*'|\"[^\"]*\"):(?:\s|$)")


def _key_at(text: str, line: int) -> str:
    """Best effort: the dotted key a line belongs to, from the block keys above it."""
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines()[:line]:
        match = _BLOCK_KEY.match(raw)
        if not match:
            continue
        indent = len(match[1])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match[2].strip("'\"")))
    return ".".join(key for _, key in stack)


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: tuple[PathPart, ...],
    lines: dict[tuple[PathPart, ...], int],
) -> None:
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue
            line = key_node.start_mark.line + 1
            if key in first_seen:
                raise _DuplicateKey(str(key), line, first_seen[key])
            first_seen[key] = line
            child = (*path, str(key))
            lines[child] = line
            _walk(loader, value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(loader, item, child, lines)


def _from_pydantic(
    err: Any, data: Any, lines: Mapping[tuple[PathPart, ...], int], file: str
) -> Problem:
    """A pydantic error at the key as written (union branch names dropped), with its line."""
    path: list[PathPart] = []
    node = data
    loc = list(err["loc"])
    if len(loc) > 4 and loc[0] == "tables" and loc[2] in ROW_OPERATIONS:
        del loc[4]  # the tag of the expectation's form (text, keys, where)
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:  # else: a union branch name, not a key of the file
            path.append(part)
            node = node[part]
    if err["type"] == "missing" and loc and isinstance(loc[-1], str):
        path.append(loc[-1])
    ctx = err.get("ctx") or {}
    extra = ctx.get("field")
    if isinstance(extra, str) and extra.startswith("[") and extra.endswith("]"):
        path.append(int(extra[1:-1]))
    elif isinstance(extra, str) and isinstance(node, dict) and extra in node:
        path.append(extra)
    reason = _reason(err, path)
    line = None
    for cut in range(len(path), 0, -1):
        if tuple(path[:cut]) in lines:
            line = lines[tuple(path[:cut])]
            break
    return Problem(file, dotted(path), reason, line)


def _reason(err: Any, path: list[PathPart]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(path[-1]) if path else ""
        known = _known_keys(path[:-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if set(known) >= set(OPERATIONS):
            if close and close[0] not in OPERATIONS:
                return f"unknown key {name!r}{hint}"
            others = ", ".join(k for k in known if k not in OPERATIONS)
            return (
                f"unknown operation {name!r}{hint} (operations: {', '.join(OPERATIONS)}; "
                f"other keys: {others})"
            )
        if hint or not known:
            return f"unknown key {name!r}{hint}"
        return f"unknown key {name!r}; known keys: {', '.join(known)}"
    if kind == "missing":
        return "required key is missing"
    reason = str(err["msg"])
    value = err.get("input")
    if kind not in ("row_access",) and not isinstance(value, dict | list) and value is not None:
        reason += f" (got {value!r})"
    return reason


def _known_keys(path: Sequence[PathPart]) -> list[str]:
    """The keys the mapping at ``path`` accepts (to suggest what a typo meant)."""
    from rlsguard.matrix.model import ChangeSpec, InsertSpec

    shape = [p for p in path if isinstance(p, str)]
    if not shape:
        return list(MatrixSpec.model_fields)
    if shape[0] != "tables":
        return []
    if len(shape) == 2:
        return list(TableSpec.model_fields)
    sections = {"insert": (InsertSpec, Candidate), CHANGES: (ChangeSpec, Change)}
    if len(shape) >= 3 and shape[2] in sections:
        section, candidate = sections[shape[2]]
        if len(shape) == 3:
            return list(section.model_fields)
        if shape[3] == "candidates":
            return [f.alias or name for name, f in candidate.model_fields.items()]
    return []


# -- checks that need the project, not the database --------------------------------------


def check_static(matrix: Matrix, personas: Iterable[str] | None) -> Iterator[Problem]:
    """Persona names, parameters, predicate syntax, key arity, insert references."""
    spec = matrix.spec
    if personas is not None:
        project = list(personas)
        for index, name in enumerate(spec.personas):
            if name not in project:
                yield matrix.problem(f"personas[{index}]", _unknown_persona(name, project))
    listed = set(spec.personas)
    for table, tspec in spec.tables.items():
        base = f"tables.{table}"
        for operation in ROW_OPERATIONS:
            for persona, value in (getattr(tspec, operation) or {}).items():
                key = f"{base}.{operation}.{persona}"
                if persona not in listed:
                    yield matrix.problem(key, _unlisted(persona, listed))
                if isinstance(value, KeyList):
                    yield from _check_keys(matrix, key, tspec, value)
                elif isinstance(value, Where):
                    yield from _check_predicate(matrix, f"{key}.where", value.where)
                elif value not in ("all", "none"):
                    yield from _check_predicate(matrix, key, value)
        if tspec.insert is not None:
            yield from _check_candidates(matrix, base, "insert", tspec.insert, listed)
        if tspec.changes is not None:
            yield from _check_candidates(matrix, base, CHANGES, tspec.changes, listed)


def _unknown_persona(name: str, project: list[str]) -> str:
    close = difflib.get_close_matches(name, project, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown persona {name!r}; {hint}known personas: {', '.join(sorted(project))}. "
        "Declare it under [personas.<name>] in the rlsguard config."
    )


def _unlisted(persona: str, listed: Iterable[str] = ()) -> str:
    close = difflib.get_close_matches(persona, list(listed), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"persona {persona!r} is not listed under personas: {hint}(add it there to check it)"


def _check_keys(matrix: Matrix, key: str, tspec: TableSpec, value: KeyList) -> Iterator[Problem]:
    if tspec.key is None:
        return
    width = len(tspec.key)
    for index, item in enumerate(value.keys):
        got = len(item) if isinstance(item, list) else 1
        if got != width:
            yield matrix.problem(
                f"{key}.keys[{index}]",
                f"has {got} value(s) but key: names {width} column(s) ({', '.join(tspec.key)})",
            )


def _check_predicate(matrix: Matrix, key: str, predicate: str) -> Iterator[Problem]:
    for ref in params.find_params(predicate):
        reason = params.check_name(ref.name)
        if reason:
            yield matrix.problem(key, reason)
    for call in params.request_functions(predicate):
        yield matrix.problem(
            key,
            f"{call} reads the request, but the oracle runs without one (RLS bypassed): use "
            ":uid, :email, :role or :claim.<path> instead",
        )
    reason = predicate_syntax_error(predicate)
    if reason:
        yield matrix.problem(key, reason)


def predicate_syntax_error(predicate: str) -> str | None:
    """Why ``predicate`` is not one SQL boolean expression, or None (parsed by libpg_query)."""
    from pglast import parser

    prefix = "SELECT ("
    text = prefix + params.substitute(predicate, lambda _: "NULL") + ")"
    try:
        tree = parser.parse_sql(text)
    except parser.ParseError as exc:
        message, *rest = exc.args
        where = ""
        if rest and isinstance(rest[0], int):
            offset = max(0, min(rest[0] - len(prefix), len(predicate)))
            where = f" (at character {offset + 1} of the predicate)"
        return f"invalid SQL predicate: {message}{where}"
    stmt = tree[0].stmt if len(tree) == 1 else None
    if (
        stmt is None
        or type(stmt).__name__ != "SelectStmt"
        or getattr(stmt, "op", 0) not in (0, None)
        or stmt.fromClause
        or len(stmt.targetList or ()) != 1
    ):
        return "invalid SQL predicate: it must be one expression (check its parentheses)"
    return None


def _check_candidates(
    matrix: Matrix, base: str, operation: str, section: Any, listed: set[str]
) -> Iterator[Problem]:
    """Parameters, predicates and accept references of ``insert:`` or ``changes:``."""
    for index, candidate in enumerate(section.candidates):
        where = f"{base}.{operation}.candidates[{index}]"
        is_change = isinstance(candidate, Change)
        data = candidate.set_ if is_change else candidate.values
        data_key = "set" if is_change else "values"
        for column, value in data.items():
            name = params.whole_param(value)
            reason = params.check_name(name) if name else None
            if reason:
                yield matrix.problem(f"{where}.{data_key}.{column}", reason)
        for column, expression in candidate.sql.items():
            for ref in params.find_params(expression):
                reason = params.check_name(ref.name)
                if reason:
                    yield matrix.problem(f"{where}.sql.{column}", reason)
        if isinstance(candidate, Change) and candidate.where is not None:
            yield from _check_predicate(matrix, f"{where}.where", candidate.where)
        for position, persona in enumerate(candidate.personas or ()):
            if persona not in listed:
                yield matrix.problem(f"{where}.personas[{position}]", _unlisted(persona, listed))
    names = {c.name: i for i, c in enumerate(section.candidates) if c.name is not None}
    count = len(section.candidates)
    for persona, accept in section.accept.items():
        key = f"{base}.{operation}.accept.{persona}"
        if persona not in listed:
            yield matrix.problem(key, _unlisted(persona, listed))
        if not isinstance(accept, list):
            continue
        for index, ref in enumerate(accept):
            if isinstance(ref, int) and not 0 <= ref < count:
                yield matrix.problem(
                    f"{key}[{index}]", f"candidate index {ref} is out of range (0..{count - 1})"
                )
                continue
            if isinstance(ref, str) and ref not in names:
                known = ", ".join(sorted(names)) or "none has a name"
                yield matrix.problem(
                    f"{key}[{index}]", f"no candidate named {ref!r} (named: {known})"
                )
                continue
            tried_by = section.candidates[ref if isinstance(ref, int) else names[ref]].personas
            if tried_by is not None and persona not in tried_by:
                yield matrix.problem(
                    f"{key}[{index}]",
                    f"candidate {ref!r} is only tried by {', '.join(tried_by)} (its personas:)",
                )
