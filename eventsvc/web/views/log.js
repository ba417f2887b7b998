// The log: a live tail with filters, pause and jump to a position. The newest KEPT events are
// kept in a ring, as the stream sent them (their JSON parsed only once a row shows them), and
// the table holds a fixed pool of rows, as many as its box shows, drawn at most once per
// animation frame by rewriting their text: however fast the log runs, a frame costs the same
// and the DOM does not grow. Scrolling moves the window over the ring; while it is scrolled
// away from the top, or paused, the rows stay put. Any row opens its event as stored, with
// its hash.

import { Feed, get } from "/web/api.js";
import { h, message, when } from "/web/dom.js";

export const KEPT = 1000;  // events one can scroll back through
const BACKLOG = 100;  // events shown from before the page opened
const ROW_PX = 24;  // every row is this tall (style.css), so a scroll offset names a row
const DRAW_MS = 0;  // the least time between two draws

class Ring {
  constructor(size) { this.size = size; this.items = new Array(size); this.count = 0; }
  push(item) { this.items[this.count % this.size] = item; this.count += 1; }
  oldest() { return Math.max(0, this.count - this.size); }  // the ordinal of the oldest kept
  at(ordinal) { return ordinal >= this.oldest() && ordinal < this.count ? this.items[ordinal % this.size] : null; }
  clear() { this.items.fill(undefined); this.count = 0; }
}

// A row's cells, from the event's JSON text on first sight.
function fields(entry) {
  if (entry.text !== null) {
    const data = JSON.parse(entry.text);
    entry.queue = data.queue_id || "";
    entry.batch = data.batch_id || "";
    entry.session = data.session_id || data.node_id || "";
    entry.text = null;
  }
  return entry;
}

export function mount(root, context) {
  const jump = Number(context.args[0]) || null;
  let start = jump ? jump - 1 : Math.max(0, context.head - BACKLOG);
  let feed = null, paused = false, frame = 0;
  const ring = new Ring(KEPT);
  let top = 0;  // the ordinal after the newest event the window shows
  let first = 0;  // how many rows down from ``top`` the window starts

  const rows = h("tbody", { id: "log-rows", onclick: (event) => {
    const button = event.target.closest("button");
    if (button) open(Number(button.closest("tr").dataset.position));
  } });
  const sizer = h("div", { class: "log-sizer" });
  const box = h("div", { class: "log-scroll", tabindex: "0", role: "region", "aria-label": "The newest events, newest first" }, sizer);
  const detail = h("section", { id: "event-detail", "aria-label": "The chosen event", tabindex: "-1" });
  const state = h("p", { id: "log-state", role: "status" });
  const behind = h("p", { id: "log-behind" });
  const input = (id, label, placeholder) => [h("label", { for: id }, label), h("input", { id, placeholder, size: 14 })];
  const filters = h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); restart(); } },
    input("f-tags", "Tags", "session.completed,…"), input("f-queue", "Queue", ""), input("f-batch", "Batch", ""),
    input("f-session", "Session", ""), h("button", { type: "submit" }, "Apply"));
  const pause = h("button", { type: "button", id: "log-pause", "aria-pressed": "false", onclick: () => setPaused(!paused) }, "Pause");
  const jumpInput = h("input", { id: "log-jump", type: "number", min: "1" });
  const jumpForm = h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); start = Math.max(0, Number(jumpInput.value) - 1); restart(); open(Number(jumpInput.value)); } },
    h("label", { for: "log-jump" }, "Jump to position"), jumpInput, h("button", { type: "submit" }, "Jump"), pause);

  // The pool: clones of one template, each with its cells at hand.
  const template = document.createElement("tr");
  template.innerHTML = "<td><button type=\"button\"></button></td><td></td><td></td><td></td><td></td>";
  let pool = [];

  function fitPool() {
    const wanted = Math.max(5, Math.ceil(box.clientHeight / ROW_PX));
    while (pool.length < wanted) {
      const tr = template.cloneNode(true);
      const cells = [...tr.children];
      pool.push({ tr, texts: [cells[0].firstChild, ...cells.slice(1)], shown: ["", "", "", "", ""], position: -1 });
      rows.append(tr);
    }
    while (pool.length > wanted) pool.pop().tr.remove();
  }

  function setPaused(value) {
    paused = value;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) { first = 0; box.scrollTop = 0; }
    schedule();
  }

  let drawn = 0, timer = 0;
  function schedule() {
    if (frame || timer) return;
    const wait = drawn + DRAW_MS - performance.now();
    if (wait <= 0) frame = requestAnimationFrame(draw);
    else timer = setTimeout(() => { timer = 0; frame = requestAnimationFrame(draw); }, wait);
  }

  function draw() {
    frame = 0;
    drawn = performance.now();
    const following = !paused && first === 0;
    if (following) top = ring.count;
    const shown = top - ring.oldest();
    const height = `${(shown + 1) * ROW_PX}px`;  // a row more for the head of the table
    if (sizer.style.height !== height) sizer.style.height = height;
    const newer = ring.count - top;
    const note = newer ? `${paused ? "paused" : "scrolled back"}: ${newer} newer events` : paused ? "paused" : "";
    if (behind.textContent !== note) behind.textContent = note;
    for (let i = 0; i < pool.length; i += 1) fill(pool[i], ring.at(top - 1 - first - i));
  }

  // Only the cells whose text changes are written: neighbouring events mostly share their
  // tag, queue and batch, and each write is a layout of its cell.
  function fill(row, entry) {
    const position = entry ? entry.position : -1;
    if (row.position === position) return;
    row.position = position;
    row.tr.hidden = !entry;
    if (entry) {
      fields(entry);
      row.tr.dataset.position = String(position);
      row.texts[0].setAttribute("aria-label", `Open event ${position}`);
    } else delete row.tr.dataset.position;
    const texts = entry ? [String(position), entry.tag, entry.queue, entry.batch, entry.session] : ["", "", "", "", ""];
    for (let i = 0; i < 5; i += 1) {
      if (row.shown[i] !== texts[i]) { row.shown[i] = texts[i]; row.texts[i].textContent = texts[i]; }
    }
  }

  function scrolled() {
    const shown = top - ring.oldest();
    first = Math.max(0, Math.min(Math.floor(box.scrollTop / ROW_PX), shown - pool.length));
    schedule();
  }

  async function open(position) {
    try {
      const event = await get(`/log/${position}`);
      detail.replaceChildren(h("h3", {}, `Event ${event.position}: ${event.tag}`),
        h("p", {}, `stream ${event.stream} v${event.version}, recorded ${when(event.recorded_at)}`),
        h("p", {}, "hash ", h("code", { class: "hash" }, event.hash)),
        h("pre", { class: "json" }, JSON.stringify(event, null, 2)));
      detail.focus();
    } catch (error) { message(detail, error.message, "alert"); }
  }

  function restart() {
    feed?.close();
    ring.clear();
    top = 0; first = 0; box.scrollTop = 0;
    schedule();
    const value = (id) => root.querySelector(`#${id}`).value.trim();
    feed = new Feed({
      after: start,
      raw: true,
      filters: { tags: value("f-tags"), queue_id: value("f-queue"), batch_id: value("f-batch"), session_id: value("f-session") },
      onEvent(position, tag, text) {
        if (position === null) return;
        ring.push({ position, tag, text, queue: "", batch: "", session: "" });
        schedule();
      },
      onState(how, position) { if (how !== "live") state.textContent = how === "reconnected" ? `reconnected after position ${position}` : "reconnecting…"; },
    }).start();
  }

  sizer.append(h("table", { class: "log" }, h("caption", { class: "visually-hidden" }, `The newest events, newest first (up to ${KEPT})`),
    h("thead", {}, h("tr", {}, ["Position", "Tag", "Queue", "Batch", "Session"].map((c) => h("th", { scope: "col" }, c)))), rows));
  root.replaceChildren(h("h2", {}, "Log"), filters, jumpForm, state, behind, h("div", { class: "log-layout" }, h("div", {}, box), detail));
  fitPool();
  const resized = new ResizeObserver(() => { fitPool(); for (const row of pool) row.position = -1; schedule(); });
  resized.observe(box);
  box.addEventListener("scroll", scrolled, { passive: true });
  restart();
  if (jump) open(jump);
  return () => { feed?.close(); cancelAnimationFrame(frame); resized.disconnect(); };
}
