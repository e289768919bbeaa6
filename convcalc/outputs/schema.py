"""The JSON Schema of spec files, generated from the layer registry (so it cannot drift)."""

from __future__ import annotations

from typing import Any

from convcalc.ci.budget import budget_schema
from convcalc.kinds import KINDS
from convcalc.kinds.merge import MERGE_KINDS, SLICE
from convcalc.kinds.values import boolean, padding, parser_schema

_EXPR = {"type": "string", "pattern": r"^\$"}
_POS = {"anyOf": [{"type": "integer", "minimum": 1}, _EXPR]}
_COUNT = {"anyOf": [{"type": "integer", "minimum": 0}, _EXPR]}
_COND = {"type": ["boolean", "integer", "string"]}
_NAME = {"type": "string", "minLength": 1}
_NAMES = {"anyOf": [_NAME, {"type": "array", "items": _NAME, "minItems": 1}]}


def _layer_item(kind: str) -> dict[str, Any]:
    ks = KINDS[kind]
    props: dict[str, Any] = {k: parser_schema(p) for k, p in ks.params.items()}
    props["name"] = {"type": ["string", "integer"]}
    props["if"] = _COND
    props["from"] = _NAME
    args = {"type": "object", "properties": props, "additionalProperties": False, "required": list(ks.required)}
    if not ks.required:
        args = {"anyOf": [args, {"type": "null"}]}
    return {"type": "object", "properties": {kind: args}, "required": [kind], "additionalProperties": False}


def spec_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) that every valid spec satisfies."""
    layer_list = {"type": "array", "items": {"$ref": "#/$defs/item"}}
    # a bare name: a kind without required arguments, a named block with all defaults, or a $parameter
    items: list[dict[str, Any]] = [{"type": "string", "pattern": r"^\$?[A-Za-z_][A-Za-z0-9_]*$"}]
    items += [_layer_item(k) for k in sorted(KINDS)]
    blk: dict[str, dict[str, Any]] = {
        "sequence": {"body": layer_list},
        "residual": {"body": layer_list, "shortcut": layer_list, "projection": layer_list, "when": _COND,
                     "inplace": _COND, "first": {"anyOf": [{"enum": ["body", "shortcut"]}, _EXPR]}},
        "branches": {"paths": {"type": "array", "items": layer_list},
                     "merge": {"anyOf": [{"enum": ["concat", "add", "mul"]}, _EXPR]},
                     "split": {"anyOf": [{"type": "boolean"}, {"type": "array", "items": _POS}, _EXPR]},
                     "inplace": _COND},
        "dense": {"n": _COUNT, "body": layer_list, "label": {"type": ["string", "integer"]}},
        "repeat": {"n": _COUNT, "body": layer_list, "label": {"type": ["string", "integer"]}},
        "side": {"body": layer_list, "training_only": _COND},
    }
    for kind, props in blk.items():
        items.append({"type": "object", "required": [kind], "additionalProperties": False,
                      "properties": {kind: {"type": "object", "additionalProperties": False,
                                            "properties": {"name": {"type": ["string", "integer"]}, "if": _COND,
                                                           "from": _NAME, **props}}}})
    for kind in MERGE_KINDS:  # add, concat, mul with their inputs
        items.append({"type": "object", "required": [kind], "additionalProperties": False,
                      "properties": {kind: {"type": "object", "additionalProperties": False, "required": ["from"],
                                            "properties": {"name": {"type": ["string", "integer"]}, "if": _COND,
                                                           "from": _NAMES, "inplace": _COND}}}})
    items.append({"type": "object", "required": [SLICE], "additionalProperties": False,  # a channel slice
                  "properties": {SLICE: {"type": ["object", "null"], "additionalProperties": False,
                                         "properties": {"name": {"type": ["string", "integer"]}, "if": _COND,
                                                        "from": _NAME, "start": _COUNT, "stop": _POS}}}})
    # a named block (template) call: any other single key with a mapping of parameters
    items.append({"type": "object", "minProperties": 1, "maxProperties": 1,
                  "not": {"anyOf": [{"required": [k]} for k in [*KINDS, *blk, *MERGE_KINDS, SLICE]]},
                  "additionalProperties": {"type": ["object", "null"]}})
    inp = {"type": "object", "additionalProperties": False,
           "properties": {"channels": _POS, "height": _POS, "width": _POS, "batch": _POS,
                          "size": {"anyOf": [_POS, {"type": "array", "items": _POS, "minItems": 2, "maxItems": 2}]},
                          "multiple_of": {"anyOf": [_POS, {"type": "array", "items": _POS, "minItems": 2,
                                                           "maxItems": 2}]}},
           "required": ["channels"]}
    alt = {"type": "object", "additionalProperties": False, "required": ["layers"],
           "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "input": inp,
                          "layers": layer_list, "outputs": _NAMES, "budget": budget_schema()}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://convcalc.dev/schema/spec-1.json",
        "title": "convcalc spec",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "convcalc": {"enum": [1, 2]},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "include": _NAMES,
            "params": {"type": "object"},
            "variants": {"type": "object", "additionalProperties": {"type": "object"}},
            "input": inp,
            "defaults": {"type": "object", "additionalProperties": False,
                         "properties": {"bias": parser_schema(boolean), "padding": parser_schema(padding),
                                        "inplace": parser_schema(boolean)}},
            "blocks": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["body"],
                "properties": {"params": {"type": ["object", "null"]}, "body": layer_list,
                               "description": {"type": "string"}}}},
            "layers": layer_list,
            "outputs": _NAMES,
            "alternatives": {"type": "array", "minItems": 1, "items": alt},
            "budget": budget_schema(),
        },
        "oneOf": [{"required": ["layers"]}, {"required": ["alternatives"]}],
        "$defs": {"item": {"anyOf": items}},
    }
