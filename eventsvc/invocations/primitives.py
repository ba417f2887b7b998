"""Primitive nodes: a value or a collection of values of one type, fed as a literal or an edge."""

from __future__ import annotations

from eventsvc.invocations.base import (
    INLINE,
    BaseInvocation,
    BaseInvocationOutput,
    InputField,
    OutputField,
)
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.decorators import invocation, invocation_output

# --- outputs ------------------------------------------------------------------------------


@invocation_output("integer_output")
class IntegerOutput(BaseInvocationOutput):
    value: int = OutputField(description="The integer")


@invocation_output("float_output")
class FloatOutput(BaseInvocationOutput):
    value: float = OutputField(description="The float")


@invocation_output("string_output")
class StringOutput(BaseInvocationOutput):
    value: str = OutputField(description="The string")


@invocation_output("boolean_output")
class BooleanOutput(BaseInvocationOutput):
    value: bool = OutputField(description="The boolean")


@invocation_output("integer_collection_output")
class IntegerCollectionOutput(BaseInvocationOutput):
    collection: list[int] = OutputField(description="The integers")


@invocation_output("float_collection_output")
class FloatCollectionOutput(BaseInvocationOutput):
    collection: list[float] = OutputField(description="The floats")


@invocation_output("string_collection_output")
class StringCollectionOutput(BaseInvocationOutput):
    collection: list[str] = OutputField(description="The strings")


@invocation_output("boolean_collection_output")
class BooleanCollectionOutput(BaseInvocationOutput):
    collection: list[bool] = OutputField(description="The booleans")


# --- single values ------------------------------------------------------------------------


@invocation(
    "integer",
    title="Integer",
    tags=("primitives", "integer"),
    category="primitives",
    isolation=INLINE,
)
class IntegerInvocation(BaseInvocation):
    """An integer value."""

    value: int = InputField(0, description="The integer value")

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=self.value)


@invocation(
    "float",
    title="Float",
    tags=("primitives", "float"),
    category="primitives",
    isolation=INLINE,
)
class FloatInvocation(BaseInvocation):
    """A float value."""

    value: float = InputField(0.0, description="The float value")

    def invoke(self, context: InvocationContext) -> FloatOutput:
        return FloatOutput(value=self.value)


@invocation(
    "string",
    title="String",
    tags=("primitives", "string"),
    category="primitives",
    isolation=INLINE,
)
class StringInvocation(BaseInvocation):
    """A string value."""

    value: str = InputField("", description="The string value")

    def invoke(self, context: InvocationContext) -> StringOutput:
        return StringOutput(value=self.value)


@invocation(
    "boolean",
    title="Boolean",
    tags=("primitives", "boolean"),
    category="primitives",
    isolation=INLINE,
)
class BooleanInvocation(BaseInvocation):
    """A boolean value."""

    value: bool = InputField(False, description="The boolean value")

    def invoke(self, context: InvocationContext) -> BooleanOutput:
        return BooleanOutput(value=self.value)


# --- collections --------------------------------------------------------------------------


@invocation(
    "integer_collection",
    title="Integer Collection",
    tags=("primitives", "collection"),
    category="primitives",
    isolation=INLINE,
)
class IntegerCollectionInvocation(BaseInvocation):
    """A list of integers."""

    collection: list[int] = InputField(default_factory=list, description="The integers")

    def invoke(self, context: InvocationContext) -> IntegerCollectionOutput:
        return IntegerCollectionOutput(collection=self.collection)


@invocation(
    "float_collection",
    title="Float Collection",
    tags=("primitives", "collection"),
    category="primitives",
    isolation=INLINE,
)
class FloatCollectionInvocation(BaseInvocation):
    """A list of floats."""

    collection: list[float] = InputField(default_factory=list, description="The floats")

    def invoke(self, context: InvocationContext) -> FloatCollectionOutput:
        return FloatCollectionOutput(collection=self.collection)


@invocation(
    "string_collection",
    title="String Collection",
    tags=("primitives", "collection"),
    category="primitives",
    isolation=INLINE,
)
class StringCollectionInvocation(BaseInvocation):
    """A list of strings."""

    collection: list[str] = InputField(default_factory=list, description="The strings")

    def invoke(self, context: InvocationContext) -> StringCollectionOutput:
        return StringCollectionOutput(collection=self.collection)


@invocation(
    "boolean_collection",
    title="Boolean Collection",
    tags=("primitives", "collection"),
    category="primitives",
    isolation=INLINE,
)
class BooleanCollectionInvocation(BaseInvocation):
    """A list of booleans."""

    collection: list[bool] = InputField(default_factory=list, description="The booleans")

    def invoke(self, context: InvocationContext) -> BooleanCollectionOutput:
        return BooleanCollectionOutput(collection=self.collection)
