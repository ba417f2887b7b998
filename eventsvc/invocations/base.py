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
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from eventsvc.invocations.context import InvocationContext

RESERVED_FIELDS = frozenset({"id", "type", "is_intermediate", "use_cache"})


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


class Isolation(enum.StrEnum):
    """Where a node body runs: a worker thread of the service, a worker process (which a
    runaway body cannot freeze the service from, and which can be killed), or inline on the
    event loop itself, for bodies that never block and return at once (arithmetic, constants):
    for them the hop to a thread and back costs more than the body. An inline body cannot be
    preempted, so its time limit is checked only once it returns."""

    THREAD = "thread"
    PROCESS = "process"
    INLINE = "inline"


# What the built-in arithmetic and constant nodes declare.
INLINE = Isolation.INLINE


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
    # Where the body runs; None: the service's default (``Settings.node_isolation``).
    isolation: Isolation | None = None
    # The longest one call may run; None: the service's default (``node_timeout_seconds``).
    timeout_seconds: float | None = None


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
