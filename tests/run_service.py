"""The ``eventsvc`` command line with the tests' slow node type registered:
``python -m tests.run_service serve --store URL --port P --workers N``.

The scale-out crash test serves batches of that node type from several such processes.
"""

from __future__ import annotations

import sys

import tests.slow_nodes  # noqa: F401 (registers the node type the batches use)
from eventsvc.cli import main

if __name__ == "__main__":
    sys.exit(main())
