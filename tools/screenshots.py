"""Screenshots of every dashboard view (``tools/screenshots``): a served store with an image
batch, a batch of additions with one failing session, and a paused batch waiting; each view
is taken once it shows its data."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.web.serving import CHROMIUM, Served, add_batch, image_batch

# view -> what must be on the page before it is taken
VIEWS = {
    "queue": "table.batches tbody tr",
    "batch/grid": "table.sessions tbody tr",
    "session/seeds.3": ".gantt li",
    "log": "#log-rows tr[data-position]",
    "stats": ".chart canvas",
    "gallery/batch/seeds": ".gallery img[src^='blob:']",
    "audit": "#audit-state[data-state='done']",
}


def fill(server: Served) -> None:
    server.call("POST", "/queue/default/enqueue_batch", image_batch("seeds", list(range(12)), 32))
    divide = {"nodes": {"d": {"type": "divide", "id": "d", "a": 12}}, "edges": []}
    data = [[{"node_path": "d", "field_name": "b", "items": [1, 2, 3, 0, 4, 6]}]]
    body = {"batch": {"batch_id": "grid", "graph": divide, "data": data}}
    server.call("POST", "/queue/default/enqueue_batch", body)
    server.call("POST", "/queue/default/enqueue_batch", add_batch("sums", 40))


def settle(page: Page, server: Served) -> None:
    page.goto(f"{server.url}/#/queue")
    for batch, count in (("seeds", 12), ("grid", 6), ("sums", 40)):
        done = page.locator(f'tr[data-batch="{batch}"] .done')
        done.filter(has_text=f"{count} / {count}").wait_for(timeout=120_000)


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        server = Served(Path(directory) / "events.db").start()
        try:
            fill(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                settle(page, server)
                server.call("PUT", "/queue/default/processor/pause")
                server.call("POST", "/queue/default/enqueue_batch", add_batch("waiting", 1000))
                server.call("POST", "/audit")
                for view, shown in VIEWS.items():
                    page.goto(f"{server.url}/#/{view}")
                    page.locator(shown).first.wait_for(timeout=60_000)
                    page.wait_for_timeout(300)  # the last frame of a chart or image paint
                    name = view.split("/")[0]
                    page.screenshot(path=str(target / f"{name}.png"), full_page=True)
                    print(target / f"{name}.png")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
