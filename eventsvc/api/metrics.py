"""``GET /metrics``: the service's figures in the Prometheus text format (``eventsvc.metrics``).

The route sits outside ``/api/`` where scrapers expect it, and the token guards it like any
API route; ``serve --metrics-open-on-loopback`` leaves it open to scrapers on this machine.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from eventsvc import metrics
from eventsvc.api.errors import documented
from eventsvc.service import Service

PATH = "/metrics"


def metrics_routes() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        PATH,
        response_class=Response,
        responses=documented(beside_another_type=True)
        | {200: {"content": {metrics.CONTENT_TYPE: {"schema": {"type": "string"}}}}},
    )
    async def scrape(request: Request) -> Response:
        """Gauges read from the projections now, and this process's counters and histograms."""
        service: Service = request.app.state.service
        return Response(await metrics.scrape(service), media_type=metrics.CONTENT_TYPE)

    return router
