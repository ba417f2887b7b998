"""Node types for the isolation and timeout tests; importable by the worker processes that
run them."""

from __future__ import annotations

import threading

import anyio

from eventsvc.errors import NodeError
from eventsvc.invocations import BaseInvocation, InputField, invocation
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.primitives import IntegerOutput, StringOutput

# Set by a stuck thread once it may return (the test lets it go at its end).
RELEASE = threading.Event()


@invocation("test_hang", title="Hang", category="tests", timeout_seconds=0.2)
class HangInvocation(BaseInvocation):
    """Blocks its thread, whatever a cancel says, until the test releases it."""

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        RELEASE.wait(30)
        return IntegerOutput(value=1)


@invocation("test_async_hang", title="Async Hang", category="tests", timeout_seconds=0.2)
class AsyncHangInvocation(BaseInvocation):
    async def invoke(self, context: InvocationContext) -> IntegerOutput:  # type: ignore[override]
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


@invocation("test_spin", title="Spin", category="tests", isolation="process", timeout_seconds=0.5)
class SpinInvocation(BaseInvocation):
    """Holds its process's interpreter forever."""

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        while True:
            pass


@invocation("test_echo", title="Echo", category="tests", isolation="process")
class EchoInvocation(BaseInvocation):
    """Stores its text as an artifact through the parent, reads it back, reports progress."""

    text: str = InputField("")

    def invoke(self, context: InvocationContext) -> StringOutput:
        sha = context.artifacts.put(self.text.encode(), "text/plain")
        context.progress(0.5, "stored")
        if self.text == "fail":
            raise NodeError("echo was told to fail")
        return StringOutput(value=context.artifacts.get(sha).decode() + f"@{context.node_id}")
