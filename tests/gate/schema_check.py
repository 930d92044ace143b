"""Validate a JSON document against a JSON Schema: the subset pydantic generates.

``jsonschema`` is not a dependency. Pydantic's schemas use ``type``, ``properties``,
``required``, ``additionalProperties``, ``items``, ``$ref`` into ``$defs``, ``anyOf``,
``enum`` and ``const``; this checks exactly those (draft 2020-12 semantics) and refuses any
other keyword with an assertion, so a schema that grows a new keyword cannot pass unchecked.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_ANNOTATIONS = {"title", "description", "default", "$schema", "$id", "$defs", "examples"}
_CHECKED = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "$ref",
    "anyOf",
    "enum",
    "const",
}


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def problems(document: Any, schema: dict[str, Any]) -> list[str]:
    """Every place ``document`` breaks ``schema`` (empty: valid)."""
    out: list[str] = []
    _check(document, schema, schema, "$", out)
    return out


def _check(
    value: Any, schema: dict[str, Any], root: dict[str, Any], where: str, out: list[str]
) -> None:
    unknown = set(schema) - _CHECKED - _ANNOTATIONS
    assert not unknown, f"{where}: schema keyword(s) this checker does not know: {unknown}"
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        _check(value, root["$defs"][ref.removeprefix("#/$defs/")], root, where, out)
    if "anyOf" in schema:
        branches = []
        for option in schema["anyOf"]:
            found: list[str] = []
            _check(value, option, root, where, found)
            branches.append(found)
        if all(branches):
            out.append(f"{where}: matches no anyOf branch ({branches[0][0]})")
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} is not one of {schema['enum']!r}")
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            out.append(f"{where}: expected {'/'.join(kinds)}, got {type(value).__name__}")
            return
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{where}: missing required property {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                _check(item, properties[name], root, f"{where}.{name}", out)
            elif extra is False:
                out.append(f"{where}: unexpected property {name!r}")
            elif isinstance(extra, dict):
                _check(item, extra, root, f"{where}.{name}", out)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], root, f"{where}[{index}]", out)
