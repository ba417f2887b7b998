"""Hostile values through every command, on every backend: each is refused with a 422 that
names what is wrong, or is stored and folded. Nothing a client sends wedges a projection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.from_thread
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsvc.api import create_app
from eventsvc.audit import audit
from eventsvc.config import Settings
from eventsvc.service import Service
from tests.backends import fresh_schema

pytestmark = pytest.mark.anyio

Q = "/api/v1/queue/default"
HOSTILE_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfff", "é\ud83d", "\u2028\u0085", ""]
HOSTILE_INTS = [2**63, -(2**63) - 1, 2**64, 2**53, -(2**53), 10**30, 2**63 - 1]


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


texts = st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE_TEXT))
ints = st.one_of(st.integers(), st.sampled_from(HOSTILE_INTS))
numbers = st.one_of(ints, st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
) | st.integers(1, 600).map(nested)


def body(value: Any) -> bytes:
    """JSON as a client may send it: lone surrogates escaped, NaN and Infinity as Python's
    parser takes them."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def part(text: str) -> str:
    """``text`` in a URL as a client may send it: a lone surrogate as its raw bytes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def edge(source: str, destination: str) -> dict[str, dict[str, str]]:
    (a, x), (b, y) = source.split("."), destination.split(".")
    return {"source": {"node_id": a, "field": x}, "destination": {"node_id": b, "field": y}}


def enqueue(field: str, value: Any) -> tuple[str, str, bytes]:
    """An enqueue that is fine but for ``field``, which holds ``value``."""
    fields = {"a": 1, "b": 2, "text": "t", "deep": [1], "origin": None, field: value}
    graph = {
        "nodes": {
            "a": {"type": "add", "id": "a", "a": fields["a"], "b": fields["b"]},
            "s": {"type": "string", "id": "s", "value": fields["text"]},
            "r": {"type": "range", "id": "r", "stop": 2},
            "i": {"type": "iterate", "id": "i"},
            "c": {"type": "collect", "id": "c", "collection": fields["deep"]},
        },
        "edges": [edge("r.collection", "i.collection"), edge("i.item", "c.item")],
    }
    batch = {"graph": graph, "origin": fields["origin"], "destination": fields["text"]}
    return "POST", f"{Q}/enqueue_batch", body({"batch": batch})


commands = st.one_of(
    st.builds(enqueue, st.just("a"), numbers),
    st.builds(enqueue, st.just("b"), ints),
    st.builds(enqueue, st.just("text"), texts),
    st.builds(enqueue, st.just("deep"), json_values),
    st.builds(enqueue, st.just("origin"), texts),
    st.builds(
        lambda items: (
            "POST",
            f"{Q}/enqueue_batch",
            body(
                {
                    "batch": {
                        "batch_id": "d",
                        "graph": {"nodes": {"a": {"type": "add", "id": "a"}}},
                        "data": [[{"node_path": "a", "field_name": "a", "items": items}]],
                    }
                }
            ),
        ),
        st.lists(numbers, min_size=1, max_size=3),
    ),
    st.builds(lambda p: ("PUT", f"{Q}/b/b/priority", body({"priority": p})), numbers),
    st.builds(lambda q: ("PUT", f"/api/v1/queue/{part(q)}/processor/pause", b""), texts),
    st.builds(lambda s: ("PUT", f"{Q}/s/{part(s)}/cancel", b""), texts),
    st.builds(lambda s: ("PUT", f"{Q}/retry_sessions", body({"session_ids": [s]})), texts),
    st.builds(lambda s: ("GET", f"{Q}/sessions?after={part(s)}", b""), texts),
    st.builds(lambda b: ("PUT", f"{Q}/cancel_by_batch_ids", body({"batch_ids": [b]})), texts),
)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/events.db"
        return
    with fresh_schema() as schema:
        yield schema.url


@pytest.fixture
async def client(
    store_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Service, httpx.AsyncClient]]:
    settings = Settings(store_url=store_url, artifacts_dir=str(tmp_path / "artifacts"))
    async with Service.open(settings) as service:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield service, http


async def test_every_command_refuses_or_stores_and_folds_hostile_values(
    client: tuple[Service, httpx.AsyncClient],
) -> None:
    service, http = client
    answers: list[tuple[int, str]] = []

    async def send(method: str, path: str, content: bytes) -> tuple[int, dict[str, Any]]:
        headers = {"content-type": "application/json"} if content else {}
        response = await http.request(method, path, content=content, headers=headers)
        return response.status_code, response.json()

    # Hypothesis drives examples from a worker thread; each request runs on this event loop.
    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(commands)
    def hostile(command: tuple[str, str, bytes]) -> None:
        status, answer = anyio.from_thread.run(send, *command)
        assert status in (200, 404, 409, 422), (command, status, answer)
        if status == 422:
            assert answer["code"].startswith("invalid"), answer
            assert answer["details"], answer  # names what is wrong
        answers.append((status, command[1]))

    await anyio.to_thread.run_sync(hostile)

    assert {status for status, _ in answers} >= {200, 422}
    with anyio.fail_after(30):
        await service.wait_for(await service.store.head())
    assert await service.store.stalls() == []
    report = await audit(service.store)
    assert [f for f in report.findings if f.check in ("bounds", "projection")] == []
