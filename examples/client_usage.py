"""The typed client in a script: enqueue a batch, follow it to its end, read its stats.

``tools/check`` runs ``mypy --strict`` over this file, so the client's types stay what a user's
editor and type checker see. Run it against ``eventsvc serve --port 9090``.
"""

from __future__ import annotations

from eventsvc.batches import Batch, BatchDatum
from eventsvc.client import Client, NotFound
from eventsvc.events import SessionCompleted, SessionFailed
from eventsvc.graph import parse_graph


def main(url: str = "http://127.0.0.1:9090") -> None:
    graph = parse_graph({"nodes": {"a": {"type": "add", "id": "a", "b": 5}}})
    batch = Batch(graph=graph, data=[[BatchDatum(node_path="a", field_name="a", items=[1, 2])]])
    with Client(url) as client:
        result = client.enqueue_batch("default", batch)
        ended = 0
        for event in client.subscribe(after=result.position - 1, batch_id=result.batch_id):
            if isinstance(event.data, SessionCompleted | SessionFailed):
                ended += 1
                if ended == result.session_count:
                    break
        status = client.batch_status("default", result.batch_id)
        print(f"{status.counts.completed} of {status.session_count} sessions completed")
        for summary in client.batch_stats(result.batch_id).node_types:
            print(f"{summary.node_type}: {summary.calls} calls, {summary.mean_seconds:.4f} s")
        try:
            client.session("default", f"{result.batch_id}.99")
        except NotFound as exc:
            print(exc.message)


if __name__ == "__main__":
    main()
