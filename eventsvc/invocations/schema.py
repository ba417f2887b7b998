"""The JSON Schemas of node types, as client generators need them (L0).

Each registered invocation and output is a definition of its own, marked ``"class":
"invocation"`` or ``"class": "output"``, with ``type`` as a required const; an invocation
points at its output (``"output": {"$ref": ...}``). ``AnyInvocation`` and ``AnyInvocationOutput``
are discriminated unions on ``type`` (``oneOf`` plus ``discriminator.mapping``), and wherever
a document refers to the abstract bases it refers to the unions instead, so a generated client
types ``Graph.nodes`` as the union of real node types and the bases are never emitted.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from eventsvc.bounds import MAX_SAFE_INT
from eventsvc.invocations.registry import InvocationRegistry

# What each abstract base stands for in a document.
UNIONS = {"BaseInvocation": "AnyInvocation", "BaseInvocationOutput": "AnyInvocationOutput"}


def definitions(registry: InvocationRegistry, ref_template: str) -> dict[str, Any]:
    """Every node type and output of ``registry``, the two unions and ``InvocationOutputMap``,
    referring to each other through ``ref_template`` (``#/$defs/{model}``)."""
    invocations, outputs = registry.invocations(), registry.outputs()
    models: list[type[BaseModel]] = [*invocations, *outputs]
    _, schema = models_json_schema(
        [(model, "validation") for model in models], ref_template=ref_template
    )
    found: dict[str, Any] = schema["$defs"]
    for cls in invocations:
        found[cls.__name__]["output"] = _ref(ref_template, cls.meta.output.__name__)
        _bound_integers(found[cls.__name__])
    found["AnyInvocation"] = _union(
        "Any registered node type, told apart by 'type'.",
        {cls.meta.type: cls.__name__ for cls in invocations},
        ref_template,
    )
    found["AnyInvocationOutput"] = _union(
        "Any output of a node type, told apart by 'type'.",
        {cls.output_type: cls.__name__ for cls in outputs},
        ref_template,
    )
    found["InvocationOutputMap"] = {
        "type": "object",
        "description": "The output schema of each invocation type.",
        "properties": {
            cls.meta.type: _ref(ref_template, cls.meta.output.__name__) for cls in invocations
        },
        "required": sorted(cls.meta.type for cls in invocations),
    }
    for base in UNIONS:
        found.pop(base, None)
    return found


def refer_to_unions(node: Any, ref_template: str) -> Any:
    """``node`` with every reference to an abstract base pointing at its union instead."""
    bases = {ref_template.format(model=b): ref_template.format(model=u) for b, u in UNIONS.items()}
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref in bases:
            return {**node, "$ref": bases[ref]}
        return {key: refer_to_unions(value, ref_template) for key, value in node.items()}
    if isinstance(node, list):
        return [refer_to_unions(item, ref_template) for item in node]
    return node


def _union(description: str, members: dict[str, str], ref_template: str) -> dict[str, Any]:
    return {
        "description": description,
        "oneOf": [_ref(ref_template, name) for _, name in sorted(members.items())],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                tag: ref_template.format(model=name) for tag, name in sorted(members.items())
            },
        },
    }


def _ref(ref_template: str, model: str) -> dict[str, str]:
    return {"$ref": ref_template.format(model=model)}


def _bound_integers(node: Any) -> None:
    """Give every integer input without bounds of its own the range a client may send
    (``bounds.MAX_SAFE_INT``), as the API checks it."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node.setdefault("minimum", -MAX_SAFE_INT)
            node.setdefault("maximum", MAX_SAFE_INT)
        for value in node.values():
            _bound_integers(value)
    elif isinstance(node, list):
        for item in node:
            _bound_integers(item)
