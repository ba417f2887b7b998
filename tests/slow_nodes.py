"""A node type that takes a little while, for tests that kill a worker mid-session; importable
by the subprocesses those tests start."""

from __future__ import annotations

import time

from eventsvc.invocations import BaseInvocation, InputField, invocation
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.primitives import IntegerOutput


@invocation("test_slow_add", title="Slow Add", category="tests")
class SlowAddInvocation(BaseInvocation):
    a: int = InputField(0)
    b: int = InputField(1)

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        time.sleep(0.005)  # the work a real node would do: a window to be killed in
        return IntegerOutput(value=self.a + self.b)
