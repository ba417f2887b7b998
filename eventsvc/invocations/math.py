"""Integer arithmetic nodes, and a seeded (so deterministic) random integer."""

from __future__ import annotations

import hashlib

from eventsvc.errors import NodeError
from eventsvc.invocations.base import (
    INLINE,
    BaseInvocation,
    InputField,
)
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.decorators import invocation
from eventsvc.invocations.primitives import IntegerOutput

_TAGS = ("math",)


@invocation("add", title="Add Integers", tags=_TAGS, category="math", isolation=INLINE)
class AddInvocation(BaseInvocation):
    """a + b"""

    a: int = InputField(0, description="The first number")
    b: int = InputField(0, description="The second number")

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=self.a + self.b)


@invocation("subtract", title="Subtract Integers", tags=_TAGS, category="math", isolation=INLINE)
class SubtractInvocation(BaseInvocation):
    """a - b"""

    a: int = InputField(0, description="The number to subtract from")
    b: int = InputField(0, description="The number to subtract")

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=self.a - self.b)


@invocation("multiply", title="Multiply Integers", tags=_TAGS, category="math", isolation=INLINE)
class MultiplyInvocation(BaseInvocation):
    """a * b"""

    a: int = InputField(0, description="The first factor")
    b: int = InputField(0, description="The second factor")

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=self.a * self.b)


@invocation("divide", title="Divide Integers", tags=_TAGS, category="math", isolation=INLINE)
class DivideInvocation(BaseInvocation):
    """a / b, truncated toward zero."""

    a: int = InputField(0, description="The dividend")
    b: int = InputField(1, description="The divisor (never zero)")

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        if self.b == 0:
            raise NodeError(f"divide: cannot divide {self.a} by zero (input 'b' is 0)")
        return IntegerOutput(value=int(self.a / self.b))


@invocation(
    "random_int",
    title="Random Integer",
    tags=(*_TAGS, "random"),
    category="math",
    isolation=INLINE,
)
class RandomIntInvocation(BaseInvocation):
    """An integer in [low, high) drawn from ``seed``: the same seed always gives the same value."""

    low: int = InputField(0, description="Inclusive lower bound")
    high: int = InputField(2**31 - 1, description="Exclusive upper bound")
    seed: int = InputField(0, description="The seed")

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        if self.high <= self.low:
            raise NodeError(f"random_int: high ({self.high}) must be greater than low ({self.low})")
        digest = hashlib.sha256(b"random_int:%d" % self.seed).digest()
        return IntegerOutput(value=self.low + int.from_bytes(digest[:16]) % (self.high - self.low))
