"""The one generator of ``schemas/``: the JSON Schemas clients generate typed code from.

``python -m eventsvc.schemas`` rewrites the files; ``--check`` exits non-zero and names every
file that differs from what the code would generate (a test runs the same comparison). It sits
in the edge layer because it will also render the API's OpenAPI document.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from eventsvc.events import AnyEvent
from eventsvc.invocations import schema
from eventsvc.invocations.registry import InvocationRegistry, builtin_registry

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


def events_schema() -> dict[str, Any]:
    """JSON Schema of the event union (the ``data`` of every stored event)."""
    schema: dict[str, Any] = msgspec.json.schema(AnyEvent)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Event",
        **schema,
    }


def clean_descriptions(node: Any) -> Any:
    """``node`` with every ``description`` dedented as ``inspect.cleandoc`` does: libraries
    differ (and change between releases) in how they turn docstrings into descriptions, and
    the committed files must not depend on which one rendered them."""
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else clean_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [clean_descriptions(item) for item in node]
    return node


def openapi_schema() -> dict[str, Any]:
    """The API's OpenAPI document, as ``/openapi.json`` serves it."""
    from eventsvc.api import create_app

    return create_app(None).openapi()


def invocations_schema(registry: InvocationRegistry | None = None) -> dict[str, Any]:
    """Every invocation and output schema under ``$defs``, each invocation pointing at its
    output, and the discriminated unions ``AnyInvocation`` and ``AnyInvocationOutput``.

    Built from the built-in packs only unless a registry is given, so nodes registered by tests
    or plugins never reach ``schemas/``.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Invocations",
        "description": "Node types (class: invocation) and their outputs (class: output).",
        "$ref": "#/$defs/AnyInvocation",
        "$defs": schema.definitions(registry or builtin_registry(), "#/$defs/{model}"),
    }


def render() -> dict[str, str]:
    """Every generated file, by name, exactly as it is written."""
    documents = {
        "events.json": events_schema(),
        "invocations.json": invocations_schema(),
        "openapi.json": openapi_schema(),
    }
    return {
        name: json.dumps(clean_descriptions(doc), indent=2, sort_keys=True) + "\n"
        for name, doc in documents.items()
    }


def drifted(directory: Path = SCHEMAS_DIR) -> list[str]:
    """Names of the files in ``directory`` that differ from a fresh render."""
    return [
        name
        for name, text in render().items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]


def write(directory: Path = SCHEMAS_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (directory / name).write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventsvc.schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report drifted files")
    parser.add_argument("--dir", type=Path, default=SCHEMAS_DIR)
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted(args.dir)
        for name in stale:
            print(f"{args.dir / name} is out of date: run python -m eventsvc.schemas")
        return 1 if stale else 0
    write(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
