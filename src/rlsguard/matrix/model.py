"""The access matrix file format (``fixtures/rls_matrix.yaml``), as pydantic models.

The file is a public interface: the checker, the recorder and later tools
(gate, drills, mutation runs) read it, and editors validate it with the JSON
Schema generated from these models (``rlsguard matrix schema``, committed at
``docs/rls_matrix.schema.json``). Field descriptions below are that schema's
documentation, so they say what a value *means* to a reader of the file.

Shape::

    version: 1
    personas: [anon, alice, bob, service_role]
    tables:
      public.notes:
        key: [id]                 # optional, default: the primary key
        label: [body]             # optional, columns printed beside keys
        select:
          anon: none
          alice: owner_id = :uid  # an oracle predicate
          bob: {keys: [3]}        # an explicit key list
          service_role: all
        update: {...}
        delete: {...}
        insert:
          candidates:
            - {name: own, values: {owner_id: ":uid", body: "mine"}}
          accept:
            alice: [own]
            anon: none
        changes:                  # updates that change rows (WITH CHECK)
          candidates:
            - {name: give_away, set: {owner_id: "2222..."}, where: "owner_id = :uid"}
          accept:
            alice: none
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

SCHEMA_ID = "https://rlsguard.dev/schemas/rls_matrix.schema.json"
OPERATIONS: tuple[str, ...] = ("select", "insert", "update", "delete")
ROW_OPERATIONS: tuple[str, ...] = ("select", "update", "delete")
CHANGES = "changes"
# What a cell checks, in the order of a table's items: the four operations, and updates that
# change rows (``changes:``) right after the no-op update.
CELL_OPERATIONS: tuple[str, ...] = ("select", "insert", "update", CHANGES, "delete")

Operation = Literal["select", "insert", "update", "delete"]
Scalar = StrictStr | StrictInt | StrictFloat | StrictBool
KeyValue = Annotated[
    Scalar | list[Scalar],
    Field(description="One row's key: a scalar, or a list in key-column order for composite keys."),
]

_TABLE_NAME = re.compile(r"^[^.\s]+\.[^.\s]+$")
_COLUMN = re.compile(r"^[^\s]+$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyList(_Model):
    """Exactly these rows, by key (what ``rlsguard matrix record`` writes)."""

    keys: list[KeyValue] = Field(
        description=(
            "The keys of the rows the persona may touch. Values are compared after a cast to "
            "the key column's type, so 42, '42' and ' 42' name the same integer key."
        )
    )


class Where(_Model):
    """An oracle predicate in long form (the same as writing the predicate as a string)."""

    where: str = Field(min_length=1, description="SQL predicate over the table's columns.")


def _access_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict) and "keys" in value:
        return "keys"
    if isinstance(value, dict) and "where" in value:
        return "where"
    return None


RowAccess = Annotated[
    Annotated[
        Literal["all", "none"] | Annotated[str, Field(min_length=1)],
        Tag("text"),
        Field(union_mode="left_to_right"),
    ]
    | Annotated[KeyList, Tag("keys")]
    | Annotated[Where, Tag("where")],
    Discriminator(
        _access_tag,
        custom_error_type="row_access",
        custom_error_message=(
            "expected 'all', 'none', an SQL predicate, {keys: [...]} or {where: ...}"
        ),
    ),
    Field(
        description=(
            "'all' (every row), 'none' (no row), an SQL predicate over the table's columns "
            "evaluated with RLS bypassed (parameters :uid, :email, :phone, :role, "
            ":claim.<path>, :app.<path>, :user.<path>), {where: predicate} or {keys: [...]}."
        )
    ),
]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Columns = Annotated[
    list[Annotated[str, Field(pattern=_COLUMN.pattern)]], BeforeValidator(_one_or_many)
]


class Candidate(_Model):
    """A row an insert request tries to create."""

    name: str | None = Field(
        default=None,
        min_length=1,
        description="A name to refer to this candidate under accept (else its index).",
    )
    values: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Column values as data. A string that is exactly a parameter (':uid', "
            "':app.school_id') takes that persona's value; mappings and lists are sent as JSON. "
            "Columns left out take their defaults."
        ),
    )
    sql: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'Column values as SQL expressions, evaluated in the request (e.g. "now()", '
            "\"(select id from public.schools where name = 'Northside')\"); parameters allowed."
        ),
    )
    personas: list[str] | None = Field(
        default=None,
        description=(
            "Only these personas try this candidate (default: every persona with an accept "
            "entry), e.g. to leave out API-key personas whose :uid is NULL."
        ),
    )

    @field_validator("sql")
    @classmethod
    def _disjoint(cls, value: dict[str, str], info: Any) -> dict[str, str]:
        return _disjoint(value, info.data.get("values"), "values")


def _disjoint(sql: dict[str, str], data: dict[str, Any] | None, name: str) -> dict[str, str]:
    both = sorted(set(sql) & set(data or {}))
    if both:
        raise PydanticCustomError(
            "candidate_columns",
            "column {column} is set both under {name} and under sql",
            {"column": both[0], "name": name, "field": both[0]},
        )
    return sql


def _unique_names(candidates: list[Any]) -> list[Any]:
    seen: set[str] = set()
    for index, candidate in enumerate(candidates):
        if candidate.name is None:
            continue
        if candidate.name in seen:
            raise PydanticCustomError(
                "candidate_name",
                "candidate name '{name}' is used twice",
                {"name": candidate.name, "field": f"[{index}]"},
            )
        seen.add(candidate.name)
    return candidates


InsertAccept = Annotated[
    Literal["all", "none"] | list[StrictInt | StrictStr],
    Field(
        union_mode="left_to_right",
        description=(
            "Which candidates the persona's insert must succeed for: 'all', 'none', or a list "
            "of candidate names and indexes. Every other candidate must be rejected."
        ),
    ),
]
ChangeAccept = Annotated[
    Literal["all", "none"] | list[StrictInt | StrictStr],
    Field(
        union_mode="left_to_right",
        description=(
            "Which changes the persona's update must apply: 'all', 'none', or a list of "
            "candidate names and indexes. Every other change must be rejected (by WITH CHECK, "
            "by a missing grant) or change no row."
        ),
    ),
]


class InsertSpec(_Model):
    """Candidate rows and, per persona, which of them an insert must accept."""

    candidates: list[Candidate] = Field(
        min_length=1, description="Rows each persona tries to insert, one request each."
    )
    accept: dict[str, InsertAccept] = Field(
        default_factory=dict, description="Per persona: the candidates that must be accepted."
    )

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, value: list[Candidate]) -> list[Candidate]:
        return _unique_names(value)


class Change(_Model):
    """An UPDATE that changes rows: new values, for the rows the persona may update.

    The rows are the persona's ``update:`` rows (every row when the file has no such entry),
    narrowed by ``where``, both evaluated by the oracle with RLS bypassed; the request then
    updates exactly those rows by key. WITH CHECK (and the SELECT policies, since the update
    reads the rows) decides whether the new rows are allowed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str | None = Field(
        default=None,
        min_length=1,
        description="A name to refer to this change under accept (else its index).",
    )
    set_: dict[str, Any] = Field(
        default_factory=dict,
        alias="set",
        description=(
            "New column values as data. A string that is exactly a parameter (':uid') takes "
            "that persona's value; mappings and lists are sent as JSON."
        ),
    )
    sql: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "New column values as SQL expressions over the old row, evaluated in the request "
            '(e.g. "name || \' (edited)\'", "(select id from public.schools where slug = '
            "'lakeview')\"); parameters allowed."
        ),
    )
    where: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "SQL predicate that narrows the rows changed (e.g. 'id = :uid' for the persona's "
            "own row), evaluated by the oracle with RLS bypassed."
        ),
    )
    personas: list[str] | None = Field(
        default=None,
        description=(
            "Only these personas try this change (default: every persona with an accept entry)."
        ),
    )

    @field_validator("sql")
    @classmethod
    def _disjoint(cls, value: dict[str, str], info: Any) -> dict[str, str]:
        return _disjoint(value, info.data.get("set_"), "set")

    @model_validator(mode="after")
    def _sets_something(self) -> Change:
        if not self.set_ and not self.sql:
            raise PydanticCustomError("change_empty", "a change needs set: or sql:", {})
        return self


class ChangeSpec(_Model):
    """Changes an UPDATE tries to make and, per persona, which of them must be applied."""

    candidates: list[Change] = Field(
        min_length=1, description="Changes each persona tries, one request each."
    )
    accept: dict[str, ChangeAccept] = Field(
        default_factory=dict, description="Per persona: the changes that must be applied."
    )

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, value: list[Change]) -> list[Change]:
        return _unique_names(value)


PersonaAccess = dict[str, RowAccess]


class TableSpec(_Model):
    """What each persona may do to one table."""

    key: Columns | None = Field(
        default=None,
        description="Columns that identify a row (default: the primary key).",
    )
    label: Columns | None = Field(
        default=None,
        description=(
            "Columns printed beside the key when a row is unexpected or missing (default: up to "
            "two text columns such as name, title or email)."
        ),
    )
    select: PersonaAccess | None = Field(
        default=None, description="Per persona: the rows a SELECT returns."
    )
    insert: InsertSpec | None = Field(
        default=None, description="Candidate rows and who may insert which."
    )
    update: PersonaAccess | None = Field(
        default=None,
        description="Per persona: the rows an UPDATE (that reads the key back) changes.",
    )
    changes: ChangeSpec | None = Field(
        default=None,
        description=(
            "Updates that change rows (a new school, role or owner) and who may make which: "
            "what a no-op update cannot show, a WITH CHECK that is missing or too loose."
        ),
    )
    delete: PersonaAccess | None = Field(
        default=None, description="Per persona: the rows a DELETE removes."
    )


class MatrixSpec(_Model):
    """An access matrix: personas x tables x operations -> the exact rows allowed."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="rlsguard access matrix",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    version: Literal[1] = Field(default=1, description="Format version.")
    personas: list[str] = Field(
        min_length=1,
        description=(
            "The personas this file speaks for: names from the project's rlsguard config "
            "([personas.<name>]), plus the built-in anon and service_role."
        ),
    )
    tables: dict[str, TableSpec] = Field(
        default_factory=dict,
        description="Per table, written schema.table (public.notes): what each persona may do.",
    )

    @field_validator("personas")
    @classmethod
    def _unique_personas(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for index, name in enumerate(value):
            if name in seen:
                raise PydanticCustomError(
                    "persona_twice",
                    "persona '{name}' is listed twice",
                    {"name": name, "field": f"[{index}]"},
                )
            seen.add(name)
        return value

    @field_validator("tables")
    @classmethod
    def _table_names(cls, value: dict[str, TableSpec]) -> dict[str, TableSpec]:
        for name in value:
            if not _TABLE_NAME.match(name):
                raise PydanticCustomError(
                    "table_name",
                    "'{name}' is not schema.table (write e.g. public.{name})",
                    {"name": name, "field": name},
                )
        return value


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the file format (draft 2020-12), for editors and docs."""
    schema = MatrixSpec.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    """The schema as committed at ``docs/rls_matrix.schema.json``."""
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
