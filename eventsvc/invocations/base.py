"""What a node is: ``BaseInvocation`` (inputs + ``invoke``) and ``BaseInvocationOutput``.

A node type is a pydantic model registered with ``@invocation(type, ...)``; the decorator adds
its ``type`` literal (the discriminator graphs are parsed by), reads the output class from the
return annotation of ``invoke``, and attaches the metadata clients see in its JSON schema.
Inputs declare how they may be fed (``InputField(input=...)``); a required input that an edge
may feed can be left out of the graph JSON and is checked just before the node runs.
"""

from __future__ import annotations

import builtins
import enum
import functools
import re
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    create_model,
    model_serializer,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from eventsvc.invocations.context import InvocationContext

RESERVED_FIELDS = frozenset({"id", "type", "is_intermediate", "use_cache"})
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")


class Input(enum.StrEnum):
    """How an input may be fed: only by an edge, only by a literal value, or either."""

    CONNECTION = "connection"
    DIRECT = "direct"
    ANY = "any"


class Classification(enum.StrEnum):
    STABLE = "stable"
    BETA = "beta"
    PROTOTYPE = "prototype"
    DEPRECATED = "deprecated"
    INTERNAL = "internal"


class InvocationError(Exception):
    """A node type was declared wrongly (raised at import, by the decorators)."""


def InputField(
    default: Any = PydanticUndefined,
    *,
    input: Input = Input.ANY,
    description: str | None = None,
    title: str | None = None,
    ui_hint: str | None = None,
    ui_order: int | None = None,
    **constraints: Any,
) -> Any:
    """An input of a node. A required input that an edge may feed (``connection`` or ``any``)
    defaults to ``None`` in the model and is marked ``orig_required``: the graph JSON may leave
    it out, and the executor raises ``MissingInputError`` if it is still unset when the node
    is about to run."""
    extra: dict[str, Any] = {"field_kind": "input", "input": input.value}
    if ui_hint is not None:
        extra["ui_hint"] = ui_hint
    if ui_order is not None:
        extra["ui_order"] = ui_order
    required = default is PydanticUndefined and "default_factory" not in constraints
    if required and input is not Input.DIRECT:
        default, extra["orig_required"] = None, True
    return Field(
        default, description=description, title=title, json_schema_extra=extra, **constraints
    )


def OutputField(
    *, description: str | None = None, title: str | None = None, ui_hint: str | None = None
) -> Any:
    """An output of a node; every output field is required."""
    extra: dict[str, Any] = {"field_kind": "output"}
    if ui_hint is not None:
        extra["ui_hint"] = ui_hint
    return Field(description=description, title=title, json_schema_extra=extra)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """What graph validation and execution need of one input field."""

    annotation: Any
    kind: Input
    orig_required: bool


@functools.cache
def input_specs(cls: type[BaseInvocation]) -> dict[str, InputSpec]:
    """The inputs of a node class (cached: validation asks for them once per edge)."""
    return {
        name: InputSpec(info.annotation, input_kind(info), is_orig_required(info))
        for name, info in cls.input_fields().items()
    }


@functools.cache
def output_specs(cls: type[BaseInvocationOutput]) -> dict[str, Any]:
    """The output fields of an output class and their annotations (cached)."""
    return {name: info.annotation for name, info in cls.output_fields().items()}


def input_kind(field: FieldInfo) -> Input:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return Input(str(extra.get("input", Input.ANY.value)))


def is_orig_required(field: FieldInfo) -> bool:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return bool(extra.get("orig_required", False))


# --- outputs ------------------------------------------------------------------------------


def _output_schema_extra(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    schema["class"] = "output"
    schema["required"] = sorted(set(schema.get("required", [])) | set(cls.model_fields))


class BaseInvocationOutput(BaseModel):
    """The typed result of a node; subclasses are registered with ``@invocation_output``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_output_schema_extra)

    output_type: ClassVar[str] = ""

    @classmethod
    def output_fields(cls) -> dict[str, FieldInfo]:
        return {name: f for name, f in cls.model_fields.items() if name != "type"}


# --- invocations --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvocationMeta:
    """What the decorator knows about a node type."""

    type: str
    title: str
    tags: tuple[str, ...]
    category: str
    version: str
    classification: Classification
    output: builtins.type[BaseInvocationOutput]
    # Whether equal inputs always give equal outputs (the invocation cache relies on it).
    deterministic: bool = True


def _invocation_schema_extra(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    meta: InvocationMeta | None = getattr(cls, "meta", None)
    schema["class"] = "invocation"
    schema["required"] = sorted(set(schema.get("required", [])) | {"type", "id"})
    for field in schema.get("properties", {}).values():
        if field.get("orig_required"):
            # None stands in for "fed by an edge"; it is no value of the field's type.
            field.pop("default", None)
    if meta is not None:
        schema["title"] = meta.title
        schema["tags"] = list(meta.tags)
        schema["category"] = meta.category
        schema["version"] = meta.version
        schema["classification"] = meta.classification.value
        # The "output" $ref is added where the document is assembled (eventsvc.schemas), as
        # only there is the reference's base known.


def _new_node_id() -> str:
    # A node built in Python gets a fresh id; graphs parsed from JSON carry their own.
    return str(uuid.uuid4())


class BaseInvocation(BaseModel):
    """A node: typed inputs and ``invoke(context) -> <its output class>``."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, json_schema_extra=_invocation_schema_extra
    )

    meta: ClassVar[InvocationMeta]

    id: str = Field(default_factory=_new_node_id, description="The node's id within its graph")
    is_intermediate: bool = Field(default=False, description="Whether the result is transient")
    use_cache: bool = Field(default=True, description="Whether a cached result may be reused")

    @model_serializer(mode="wrap")
    def _without_unfed_inputs(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out required inputs still waiting for their edge, so the JSON parses back."""
        data: dict[str, Any] = handler(self)
        for name, spec in input_specs(type(self)).items():
            if spec.orig_required and data.get(name, ...) is None:
                del data[name]
        return data

    @property
    def node_type(self) -> str:
        return type(self).meta.type

    def invoke(self, context: InvocationContext) -> BaseInvocationOutput:
        raise NotImplementedError(f"{type(self).__name__} does not implement invoke()")

    @classmethod
    def input_fields(cls) -> dict[str, FieldInfo]:
        return {n: f for n, f in cls.model_fields.items() if n not in RESERVED_FIELDS}


# --- decorators ---------------------------------------------------------------------------

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
        from eventsvc.invocations.registry import REGISTRY

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
) -> Callable[[type[_I]], type[_I]]:
    """Register a node type: version must be semver, the output is read from ``invoke``."""

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
        )
        from eventsvc.invocations.registry import REGISTRY

        REGISTRY.register_invocation(model)
        return model

    return wrap


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
    from eventsvc.invocations.registry import REGISTRY

    matches = [o for o in REGISTRY.outputs() if o.__name__ == name]
    return matches[0] if len(matches) == 1 else None
