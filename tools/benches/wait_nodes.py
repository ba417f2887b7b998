"""The ``eventsvc`` command line with ``bench_wait`` registered: a node that waits 50 ms on
the event loop and computes nothing, standing in for GPU or remote work, so that a 2-core
machine can show whether coordination, not computation, limits scale-out.

``python -m benches.wait_nodes serve --store URL --port P --workers N`` (with ``tools/`` on
``PYTHONPATH``, as ``common.serve_process`` sets it).
"""

from __future__ import annotations

import sys

import anyio

from eventsvc.cli import main
from eventsvc.invocations import BaseInvocation, InputField, invocation
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.primitives import IntegerOutput

WAIT_SECONDS = 0.05


@invocation("bench_wait", title="Wait", category="bench")
class WaitInvocation(BaseInvocation):
    a: int = InputField(0)

    async def invoke(self, context: InvocationContext) -> IntegerOutput:
        await anyio.sleep(WAIT_SECONDS)
        return IntegerOutput(value=self.a + 1)


if __name__ == "__main__":
    sys.exit(main())
