"""The registry of node types: lookup by type, discriminated unions, allow and deny lists.

``REGISTRY`` is what the decorators register into (built-in packs and user nodes alike).
``builtin_registry()`` is a fresh registry of the built-in packs only, so nodes registered by
tests or plugins never leak into generated schemas. ``restricted(allow, deny)`` applies the
configuration's type lists.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Union

from pydantic import Field, ValidationError

from eventsvc.errors import Problem
from eventsvc.invocations.base import BaseInvocation, BaseInvocationOutput

log = logging.getLogger("eventsvc.invocations")

BUILTIN_MODULE_PREFIX = "eventsvc.invocations."


class InvocationRegistry:
    def __init__(self) -> None:
        self._invocations: dict[str, type[BaseInvocation]] = {}
        self._outputs: dict[str, type[BaseInvocationOutput]] = {}

    def register_invocation(self, cls: type[BaseInvocation]) -> None:
        self._replace(self._invocations, cls.meta.type, cls, "invocation")

    def register_output(self, cls: type[BaseInvocationOutput]) -> None:
        self._replace(self._outputs, cls.output_type, cls, "output")

    @staticmethod
    def _replace(table: dict[str, Any], key: str, cls: type, kind: str) -> None:
        if cls.__module__.startswith(BUILTIN_MODULE_PREFIX):
            _BUILTINS[kind][key] = cls
        previous = table.get(key)
        if previous is not None and previous is not cls:
            log.warning(
                "%s type %r registered again: %s.%s replaces %s.%s",
                kind,
                key,
                cls.__module__,
                cls.__qualname__,
                previous.__module__,
                previous.__qualname__,
            )
        table[key] = cls

    def get(self, invocation_type: str) -> type[BaseInvocation] | None:
        return self._invocations.get(invocation_type)

    def get_output(self, output_type: str) -> type[BaseInvocationOutput] | None:
        return self._outputs.get(output_type)

    def types(self) -> list[str]:
        return sorted(self._invocations)

    def invocations(self) -> list[type[BaseInvocation]]:
        return [self._invocations[t] for t in sorted(self._invocations)]

    def outputs(self) -> list[type[BaseInvocationOutput]]:
        return [self._outputs[t] for t in sorted(self._outputs)]

    def closest(self, invocation_type: str) -> list[str]:
        return difflib.get_close_matches(invocation_type, self._invocations, n=3, cutoff=0.5)

    def restricted(
        self, allow: Iterable[str] | None = None, deny: Iterable[str] = ()
    ) -> InvocationRegistry:
        """A registry holding only allowed (all when ``allow`` is None), not denied types."""
        allowed = None if allow is None else set(allow)
        denied = set(deny)
        registry = InvocationRegistry()
        registry._outputs = dict(self._outputs)
        registry._invocations = {
            t: cls
            for t, cls in self._invocations.items()
            if (allowed is None or t in allowed) and t not in denied
        }
        return registry

    def invocation_union(self) -> Any:
        """``Annotated[A | B | ..., Field(discriminator="type")]`` over the registered nodes."""
        return _union(self.invocations())

    def output_union(self) -> Any:
        return _union(self.outputs())

    def parse_node(
        self, node_id: str, data: Mapping[str, Any] | BaseInvocation
    ) -> BaseInvocation | list[Problem]:
        """One node from its JSON form, or the problems that stop it from parsing."""
        if isinstance(data, BaseInvocation):
            cls = self.get(data.node_type)
            if cls is None:
                return [self._unknown(node_id, data.node_type)]
            return data
        node_type = data.get("type")
        if not isinstance(node_type, str):
            return [
                Problem(
                    code="missing_type",
                    node_id=node_id,
                    field="type",
                    message="a node needs a 'type' naming its node type",
                )
            ]
        cls = self.get(node_type)
        if cls is None:
            return [self._unknown(node_id, node_type)]
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            return [
                Problem(
                    code="invalid_value",
                    node_id=node_id,
                    field=".".join(str(part) for part in error["loc"]) or None,
                    message=error["msg"],
                )
                for error in exc.errors(include_url=False)
            ]

    def _unknown(self, node_id: str, node_type: str) -> Problem:
        near = self.closest(node_type)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        return Problem(
            code="unknown_node_type",
            node_id=node_id,
            field="type",
            message=f"unknown node type {node_type!r}{hint}",
        )


def _union(classes: list[Any]) -> Any:
    if len(classes) == 1:
        return classes[0]
    return Annotated[Union[tuple(classes)], Field(discriminator="type")]  # noqa: UP007


_BUILTINS: dict[str, dict[str, Any]] = {"invocation": {}, "output": {}}
REGISTRY = InvocationRegistry()
"""Every node type registered in this process, built-in or not."""


def builtin_registry() -> InvocationRegistry:
    """A fresh registry of eventsvc's own node packs, whatever else was registered since.

    The packs are registered already: importing this module imports its package first, and
    the package imports every pack."""
    registry = InvocationRegistry()
    registry._invocations = dict(_BUILTINS["invocation"])
    registry._outputs = dict(_BUILTINS["output"])
    return registry
