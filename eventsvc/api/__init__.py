"""The HTTP API (L3): a thin translation of requests to ``Service`` calls (DESIGN section 5).

``create_app(service)`` builds the FastAPI app around a service the caller has opened, so
tests drive it through ``httpx.ASGITransport`` and ``serve`` through uvicorn alike. Every
error answers ``{code, message, details: [{code, node_id, field, message}]}``; the one table
from error to status lives in ``errors.py`` here.
"""

from eventsvc.api.app import create_app

__all__ = ["create_app"]
