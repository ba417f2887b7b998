"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real
``eventsvc serve``: what a person sees, live. One server and one browser serve the module;
the test that restarts the server runs last."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.web.serving import Served, add_batch, chromium_or_skip, image_batch

WAIT = 30_000  # ms: the longest any change may take to show (a busy CI machine)
ROWS = "#log-rows tr[data-position]"  # the log's rows that show an event


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served(tmp_path_factory.mktemp("served") / "events.db").start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


class Console:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def heard(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1280, "height": 900})
    opened.on("console", console.heard)
    opened.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    yield opened
    opened.close()


def enqueue(server: Served, body: dict[str, Any]) -> int:
    position: int = server.call("POST", "/queue/default/enqueue_batch", body)["position"]
    return position


def finished(page: Page, batch_id: str, count: int) -> None:
    done = page.locator(f'tr[data-batch="{batch_id}"] .done')
    expect(done).to_have_text(f"{count} / {count}", timeout=WAIT)


def test_an_enqueued_batch_appears_and_its_progress_reaches_100_percent_live(
    server: Served, page: Page, console: Console
) -> None:
    page.goto(f"{server.url}/#/queue")
    expect(page.locator("#connection")).to_have_text("live", timeout=WAIT)
    enqueue(server, add_batch("first", 5))
    finished(page, "first", 5)
    bar = page.locator('tr[data-batch="first"] [role="progressbar"]')
    expect(bar).to_have_attribute("aria-valuenow", "5")
    assert page.locator('tr[data-batch="first"] .completed').evaluate("e => e.style.width") == (
        "100%"
    )
    assert console.errors == []


def test_cancel_and_priority_from_the_page_show_in_the_log(
    server: Served, page: Page, console: Console
) -> None:
    server.call("PUT", "/queue/default/processor/pause")
    enqueue(server, add_batch("held", 4))
    page.goto(f"{server.url}/#/queue")
    row = page.locator('tr[data-batch="held"]')
    expect(row).to_be_visible(timeout=WAIT)
    row.get_by_label("Priority of held").fill("7")
    row.get_by_role("button", name="Set priority").click()
    expect(row.locator(".priority-value")).to_have_text("7", timeout=WAIT)
    row.get_by_role("button", name="Cancel").click()
    expect(row.locator(".done")).to_have_text("4 / 4", timeout=WAIT)
    server.call("PUT", "/queue/default/processor/resume")
    page.goto(f"{server.url}/#/log")
    rows = page.locator(ROWS)
    expect(rows.filter(has_text="batch.reprioritized").filter(has_text="held")).to_have_count(1)
    expect(rows.filter(has_text="batch.canceled").filter(has_text="held")).to_have_count(1)
    canceled = rows.filter(has_text="batch.canceled")
    canceled.get_by_role("button").click()
    stored = server.call("GET", f"/log/{canceled.get_attribute('data-position')}")
    expect(page.locator("#event-detail .hash")).to_have_text(stored["hash"])
    assert console.errors == []


def test_images_of_a_batch_load(server: Served, page: Page, console: Console) -> None:
    page.goto(f"{server.url}/#/queue")
    enqueue(server, image_batch("pictures", [1, 2, 3]))
    finished(page, "pictures", 3)
    page.goto(f"{server.url}/#/gallery/batch/pictures")
    images = page.locator(".gallery img")
    expect(images).to_have_count(3, timeout=WAIT)
    for index in range(3):
        image = images.nth(index)
        expect(image).to_have_attribute("src", re.compile(r"^blob:"), timeout=WAIT)
        image.evaluate("img => img.decode()")
        assert image.evaluate("img => img.naturalWidth") > 0
        assert "session pictures." in (image.get_attribute("alt") or "")
    images.first.click()
    expect(page.locator("#enlarged img")).to_be_visible()
    assert console.errors == []


def test_time_travel_shows_the_earlier_counts(server: Served, page: Page) -> None:
    first = server.call("GET", "/log/1")
    assert first["data"]["batch_id"] == "first"
    page.goto(f"{server.url}/#/queue")
    expect(page.locator("#connection")).to_have_text("live", timeout=WAIT)
    page.fill("#travel-number", "1")
    page.click("#travel-go")
    expect(page.locator("#past-banner")).to_contain_text("position 1", timeout=WAIT)
    expect(page.locator('dd[data-state="uninitialized"]')).to_have_text("5", timeout=WAIT)
    expect(page.locator('dd[data-state="completed"]')).to_have_text("0")
    expect(page.locator("table.batches tbody tr")).to_have_count(1)
    page.goto(f"{server.url}/#/stats")
    expect(page.locator("#past-banner")).to_contain_text("position 1")
    expect(page.locator(".stats caption")).to_have_text("Per node type at position 1", timeout=WAIT)
    expect(page.locator(".stats tbody tr")).to_have_count(0)
    page.goto(f"{server.url}/#/queue")
    page.click("#travel-now")
    expect(page.locator("#past-banner")).to_be_hidden()
    expect(page.locator('dd[data-state="uninitialized"]')).to_have_text("0", timeout=WAIT)


def test_a_tampered_copy_shows_the_audit_finding_at_its_position(
    server: Served, page: Page, tmp_path: Path
) -> None:
    copy = tmp_path / "tampered.db"
    with sqlite3.connect(server.store) as live, sqlite3.connect(copy) as target:
        live.backup(target)
    with sqlite3.connect(copy) as target:
        target.execute(
            "UPDATE events SET data = replace(data, 'default', 'forged') WHERE position = 1"
        )
    tampered = Served(copy, workers=1).start()
    try:
        page.goto(f"{tampered.url}/#/audit")
        page.get_by_role("button", name="Start an audit").click()
        expect(page.locator("#audit-state")).to_have_attribute("data-state", "done", timeout=WAIT)
        finding = page.locator('#audit-report a[href="#/log/1"]').first
        expect(finding).to_be_visible()
        finding.click()
        expect(page.locator("#event-detail")).to_contain_text("forged", timeout=WAIT)
    finally:
        tampered.stop()


def test_any_queue_can_be_picked(server: Served, page: Page, console: Console) -> None:
    server.call("POST", "/queue/side/enqueue_batch", add_batch("aside", 4))
    page.goto(f"{server.url}/#/queue")
    picker = page.get_by_label("Queue", exact=True)
    expect(picker.locator("option", has_text="side")).to_have_count(1, timeout=WAIT)
    picker.select_option("side")
    expect(page).to_have_url(re.compile(r"#/queue/side$"))
    expect(page.locator("h2")).to_contain_text("Queue side", timeout=WAIT)
    expect(page.locator('tr[data-batch="aside"] .done')).to_have_text("0 / 4", timeout=WAIT)
    expect(page.locator('dd[data-state="uninitialized"]')).to_have_text("4")
    page.locator('tr[data-batch="aside"] a').click()
    expect(page.locator("table.sessions tbody tr")).to_have_count(4, timeout=WAIT)
    page.goto(f"{server.url}/#/queue/default")
    expect(page.locator("h2")).to_contain_text("Queue default", timeout=WAIT)
    expect(page.locator('tr[data-batch="aside"]')).to_have_count(0)
    assert console.errors == []


def test_a_refresh_keeps_the_focus_and_what_is_typed(server: Served, page: Page) -> None:
    server.call("PUT", "/queue/default/processor/pause")
    enqueue(server, add_batch("typed", 2))
    page.goto(f"{server.url}/#/queue")
    field = page.get_by_label("Priority of typed")
    expect(field).to_be_visible(timeout=WAIT)
    field.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("9")
    enqueue(server, add_batch("meanwhile", 2))
    expect(page.locator('tr[data-batch="meanwhile"]')).to_be_visible(timeout=WAIT)
    expect(field).to_be_focused()
    expect(field).to_have_value("9")
    page.keyboard.press("Tab")
    expect(
        page.locator('tr[data-batch="typed"]').get_by_role("button", name="Set priority")
    ).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator('tr[data-batch="typed"] .priority-value')).to_have_text("9", timeout=WAIT)
    server.call("PUT", "/queue/default/processor/resume")
    finished(page, "meanwhile", 2)


def test_the_stats_charts_start_from_history_and_follow_live(
    server: Served, page: Page, console: Console
) -> None:
    before = sum(b["completed"] for b in server.call("GET", "/stats/completions")["buckets"])
    assert before > 0
    page.goto(f"{server.url}/#/stats")
    chart = page.locator("#completions-chart")
    expect(chart).to_have_attribute("data-completed", str(before), timeout=WAIT)
    expect(chart.locator("canvas").first).to_be_visible()
    expect(chart).to_have_attribute("aria-label", re.compile(f"{before} completed"))
    durations = page.locator("#durations-chart")
    expect(durations).to_have_attribute("aria-label", re.compile(r"add: mean .* p95"))
    expect(durations.locator("canvas").first).to_be_visible()
    headers = page.locator(".stats thead th").all_text_contents()
    assert headers[1:] == [
        "Calls",
        "Cache hits",
        "Failures",
        "Mean",
        "p95",
        "Max VRAM",
        "RAM change",
    ]
    add = page.locator(".stats tbody tr", has_text="add").first
    calls = int(add.locator("td").nth(1).text_content() or "0")
    enqueue(server, add_batch("charted", 3))
    expect(chart).to_have_attribute("data-completed", str(before + 3), timeout=WAIT)
    expect(add.locator("td").nth(1)).to_have_text(str(calls + 3), timeout=WAIT)
    assert console.errors == []


def test_the_log_keeps_a_fixed_pool_of_rows_scrolls_back_and_pauses(
    server: Served, page: Page, console: Console
) -> None:
    page.goto(f"{server.url}/#/log")
    rows = page.locator(ROWS)
    expect(rows.first).to_be_visible(timeout=WAIT)
    pool = page.locator("#log-rows tr").count()
    enqueue(server, add_batch("many", 60))
    expect(rows.filter(has_text="session.completed").filter(has_text="many.59")).to_have_count(
        1, timeout=WAIT
    )
    assert page.locator("#log-rows tr").count() == pool
    newest = int(rows.first.get_attribute("data-position") or "0")
    page.locator(".log-scroll").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    expect(rows.first).not_to_have_attribute("data-position", str(newest))
    oldest = int(rows.last.get_attribute("data-position") or "0")
    assert oldest < newest - pool
    page.locator(".log-scroll").evaluate("box => { box.scrollTop = 0; }")
    expect(rows.first).to_have_attribute("data-position", str(newest))
    page.get_by_role("button", name="Pause").click()
    enqueue(server, add_batch("unseen", 2))
    expect(page.locator("#log-behind")).to_contain_text("newer events", timeout=WAIT)
    expect(rows.first).to_have_attribute("data-position", str(newest))
    assert rows.filter(has_text="unseen").count() == 0
    page.get_by_role("button", name="Follow the log").click()
    expect(rows.filter(has_text="unseen").first).to_be_visible()
    assert page.locator("#log-rows tr").count() == pool
    assert console.errors == []


def test_a_jump_shows_the_position_and_holds_it_until_told_to_follow(
    server: Served, page: Page, console: Console
) -> None:
    page.goto(f"{server.url}/#/log")
    expect(page.locator(ROWS).first).to_be_visible(timeout=WAIT)
    page.get_by_label("Jump to position").fill("3")
    page.get_by_role("button", name="Jump", exact=True).click()
    jumped = page.locator(f"{ROWS}.jumped")
    expect(jumped).to_have_attribute("data-position", "3", timeout=WAIT)
    expect(jumped).to_be_in_viewport()
    expect(page.locator("#event-detail h3")).to_contain_text("Event 3:")
    expect(page.locator("#log-behind")).to_contain_text("at position 3")
    enqueue(server, add_batch("later", 2))
    rows = page.locator(ROWS)
    expect(page.locator("#log-behind")).to_contain_text("newer events", timeout=WAIT)
    expect(jumped).to_be_in_viewport()
    assert rows.filter(has_text="later").count() == 0
    page.get_by_role("button", name="Follow the log").click()
    expect(rows.filter(has_text="session.completed").filter(has_text="later.1")).to_have_count(
        1, timeout=WAIT
    )
    expect(page.locator("#log-behind")).to_have_text("")
    assert console.errors == []


# What a screen reader would have no words for: a field without a label, a control without a
# name, an image without a text alternative (a chart's canvas takes its figure's).
UNNAMED = """() => {
  const shown = (e) => e.offsetParent !== null;
  const named = (e) => (e.getAttribute("aria-label") || e.textContent || e.title || "").trim();
  const problems = [];
  const all = (selector) => [...document.querySelectorAll(selector)];
  const tell = (e) => problems.push(e.outerHTML.slice(0, 120));
  all("input, select, textarea").filter((e) => shown(e) && !e.labels.length)
    .filter((e) => !e.getAttribute("aria-label")).forEach(tell);
  all("button, a[href]").filter((e) => shown(e) && !named(e)).forEach(tell);
  all("img").filter((e) => !e.getAttribute("alt")).forEach(tell);
  all("canvas, [role=img]").filter((e) => !e.closest("[role=img]")?.getAttribute("aria-label"))
    .forEach(tell);
  return problems;
}"""


def test_no_view_logs_a_console_error(server: Served, page: Page, console: Console) -> None:
    views = {
        "queue": "table.batches tbody tr",
        "batch/first": "table.sessions tbody tr",
        "session/pictures.0": ".gantt li",
        "log": ROWS,
        "stats": ".stats table tbody tr",
        "gallery/batch/pictures": ".gallery img",
        "audit": "#health-head",
    }
    for view, shown in views.items():
        page.goto(f"{server.url}/#/{view}")
        expect(page.locator(shown).first).to_be_visible(timeout=WAIT)
        assert page.evaluate(UNNAMED) == [], view
    page.goto(f"{server.url}/#/stats")
    expect(page.locator(".chart canvas").first).to_be_visible(timeout=WAIT)
    assert page.evaluate(UNNAMED) == []
    assert console.errors == []


def test_the_log_resumes_without_gap_or_duplicate_after_a_restart(
    server: Served, page: Page
) -> None:
    page.goto(f"{server.url}/#/log")
    rows = page.locator(ROWS)
    enqueue(server, add_batch("before", 3))
    completed = rows.filter(has_text="session.completed")
    expect(completed.filter(has_text="before")).to_have_count(3, timeout=WAIT)
    server.stop()
    expect(page.locator("#log-state")).to_contain_text("reconnecting", timeout=WAIT)
    expect(page.locator("#connection")).to_contain_text("reconnecting", timeout=WAIT)
    server.start()
    expect(page.locator("#log-state")).to_contain_text("reconnected", timeout=WAIT)
    expect(page.locator("#connection")).to_contain_text("reconnected", timeout=WAIT)
    enqueue(server, add_batch("after", 3))
    expect(completed.filter(has_text="after")).to_have_count(3, timeout=WAIT)
    shown = page.locator(ROWS)
    positions = [int(p) for p in shown.evaluate_all("rs => rs.map(r => r.dataset.position)")]
    head = server.call("GET", "/health")["head"]
    assert positions == list(range(head, head - len(positions), -1))
