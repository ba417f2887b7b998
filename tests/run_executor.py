"""Run a service with one executor on a store until killed: ``python -m tests.run_executor URL``.

The crash tests start it in a subprocess and SIGKILL it mid-batch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

import tests.slow_nodes  # noqa: F401 (registers the node type the batches use)
from eventsvc.config import Settings
from eventsvc.service import Service


async def main(url: str, artifacts: str) -> None:
    settings = Settings(store_url=url, artifacts_dir=artifacts, lease_seconds=0.6)
    async with Service.open(settings) as service:
        print("running", flush=True)
        await service.executor().run()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], str(Path(sys.argv[2])))
