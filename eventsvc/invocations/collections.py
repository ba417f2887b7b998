"""Collection nodes: ``range``, and ``iterate``/``collect``, which the execution state expands.

``iterate`` is copied once per item of its collection (each copy outputs its item, index and
the total); ``collect`` runs once, after every iteration upstream, gathering their items in
order. Neither is cached: what they output depends on the expansion, not only their inputs.
"""

from __future__ import annotations

from typing import Any

from eventsvc.errors import NodeError
from eventsvc.invocations.base import (
    BaseInvocation,
    BaseInvocationOutput,
    Input,
    InputField,
    OutputField,
)
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.decorators import invocation, invocation_output
from eventsvc.invocations.primitives import IntegerCollectionOutput

ITERATE = "iterate"
COLLECT = "collect"


@invocation("range", title="Integer Range", tags=("collection", "range"), category="collections")
class RangeInvocation(BaseInvocation):
    """Integers from start (inclusive) to stop (exclusive), ``step`` apart."""

    start: int = InputField(0, description="The first integer")
    stop: int = InputField(10, description="Where to stop (exclusive)")
    step: int = InputField(1, description="The distance between integers (never 0)")

    def invoke(self, context: InvocationContext) -> IntegerCollectionOutput:
        if self.step == 0:
            raise NodeError("range: step cannot be 0")
        return IntegerCollectionOutput(collection=list(range(self.start, self.stop, self.step)))


@invocation_output("iterate_output")
class IterateOutput(BaseInvocationOutput):
    item: Any = OutputField(description="The item of this iteration")
    index: int = OutputField(description="The index of the item")
    total: int = OutputField(description="How many items the collection holds")


@invocation(
    ITERATE,
    title="Iterate",
    tags=("collection", "iterate"),
    category="collections",
    deterministic=False,
)
class IterateInvocation(BaseInvocation):
    """Run the nodes below once per item of ``collection``."""

    collection: list[Any] = InputField(input=Input.CONNECTION, description="The items")
    index: int = InputField(0, input=Input.DIRECT, description="Set by the expansion")

    def invoke(self, context: InvocationContext) -> IterateOutput:
        return IterateOutput(
            item=self.collection[self.index], index=self.index, total=len(self.collection)
        )


@invocation_output("collect_output")
class CollectOutput(BaseInvocationOutput):
    collection: list[Any] = OutputField(description="Every item gathered, in iteration order")


@invocation(
    COLLECT,
    title="Collect",
    tags=("collection", "collect"),
    category="collections",
    deterministic=False,
)
class CollectInvocation(BaseInvocation):
    """Gather ``item`` from every iteration upstream into one list."""

    item: Any = InputField(input=Input.CONNECTION, description="One item (one edge or many)")
    collection: list[Any] = InputField(
        default_factory=list, input=Input.DIRECT, description="Set by the expansion"
    )

    def invoke(self, context: InvocationContext) -> CollectOutput:
        return CollectOutput(collection=list(self.collection))
