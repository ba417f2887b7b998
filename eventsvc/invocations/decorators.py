"""The decorators that make a class a node type or an output and register it in
``REGISTRY``: the type literal is added (the discriminator), the metadata checked (a semver
version, a known classification, an output read from ``invoke``'s annotation)."""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, create_model

from eventsvc.invocations.base import (
    RESERVED_FIELDS,
    BaseInvocation,
    BaseInvocationOutput,
    Classification,
    InvocationError,
    InvocationMeta,
    Isolation,
)
from eventsvc.invocations.registry import REGISTRY

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")


_I = TypeVar("_I", bound=BaseInvocation)
_O = TypeVar("_O", bound=BaseInvocationOutput)
_T = TypeVar("_T", bound=BaseModel)


def _with_type_literal(cls: type[_T], type_name: str) -> type[_T]:
    """A subclass of ``cls`` that adds the ``type`` discriminator field."""
    model: type[_T] = create_model(
        cls.__name__,
        __base__=cls,
        __module__=cls.__module__,
        __doc__=cls.__doc__,
        type=(Literal[type_name], Field(default=type_name, description="The node type")),  # type: ignore[arg-type]
    )
    model.__qualname__ = cls.__qualname__
    return model


def invocation_output(output_type: str) -> Callable[[type[_O]], type[_O]]:
    """Register an output class under ``output_type``."""

    def wrap(cls: type[_O]) -> type[_O]:
        if "type" in cls.__annotations__:
            raise InvocationError(f"output {cls.__name__}: 'type' is reserved for the decorator")
        model = _with_type_literal(cls, output_type)
        model.output_type = output_type
        REGISTRY.register_output(model)
        return model

    return wrap


def invocation(
    invocation_type: str,
    *,
    title: str | None = None,
    tags: typing.Sequence[str] = (),
    category: str = "misc",
    version: str = "1.0.0",
    classification: Classification | str = Classification.STABLE,
    deterministic: bool = True,
    isolation: Isolation | str | None = None,
    timeout_seconds: float | None = None,
) -> Callable[[type[_I]], type[_I]]:
    """Register a node type: version must be semver, the output is read from ``invoke``.

    ``isolation`` ("thread", "process" or "inline") and ``timeout_seconds`` override the service's
    defaults for this type."""

    def wrap(cls: type[_I]) -> type[_I]:
        where = f"invocation {invocation_type!r} ({cls.__name__})"
        reserved = RESERVED_FIELDS & set(cls.__annotations__)
        if reserved:
            raise InvocationError(f"{where}: field names {sorted(reserved)} are reserved")
        if not _SEMVER.match(version):
            raise InvocationError(f"{where}: version {version!r} is not semver (like '1.2.0')")
        try:
            kind = Classification(classification)
        except ValueError:
            allowed = ", ".join(c.value for c in Classification)
            raise InvocationError(
                f"{where}: classification {classification!r} is not one of {allowed}"
            ) from None
        where_runs = _isolation(isolation, where)
        if timeout_seconds is not None and not timeout_seconds > 0:
            raise InvocationError(f"{where}: timeout_seconds {timeout_seconds!r} is not above 0")
        model = _with_type_literal(cls, invocation_type)
        model.meta = InvocationMeta(
            type=invocation_type,
            title=title or cls.__name__.removesuffix("Invocation"),
            tags=tuple(tags),
            category=category,
            version=version,
            classification=kind,
            output=_output_class(cls, where),
            deterministic=deterministic,
            isolation=where_runs,
            timeout_seconds=timeout_seconds,
        )
        REGISTRY.register_invocation(model)
        return model

    return wrap


def _isolation(isolation: Isolation | str | None, where: str) -> Isolation | None:
    if isolation is None:
        return None
    try:
        return Isolation(isolation)
    except ValueError:
        allowed = ", ".join(i.value for i in Isolation)
        raise InvocationError(f"{where}: isolation {isolation!r} is not one of {allowed}") from None


def _output_class(cls: type[BaseInvocation], where: str) -> type[BaseInvocationOutput]:
    try:
        output = typing.get_type_hints(cls.invoke).get("return")
    except NameError as exc:
        # A node defined inside a function names its output in a string that only the
        # function's scope resolves; a registered output class of that name will do.
        output = _registered_output(cls.invoke.__annotations__.get("return"))
        if output is None:
            raise InvocationError(
                f"{where}: cannot resolve the return type of invoke(): {exc}"
            ) from exc
    if not (isinstance(output, type) and issubclass(output, BaseInvocationOutput)):
        raise InvocationError(
            f"{where}: invoke() must be annotated to return a BaseInvocationOutput subclass, "
            f"found {output!r}"
        )
    if output is BaseInvocationOutput or not output.output_type:
        raise InvocationError(f"{where}: output class {output.__name__} is not registered")
    return output


def _registered_output(name: object) -> type[BaseInvocationOutput] | None:
    matches = [o for o in REGISTRY.outputs() if o.__name__ == name]
    return matches[0] if len(matches) == 1 else None
