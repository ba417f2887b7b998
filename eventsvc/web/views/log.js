// The log: a live tail with filters, pause and jump to a position. Events are kept in a ring
// as the stream sent them (their JSON parsed only once a row shows them), and the table holds
// a fixed pool of rows, as many as its box shows, drawn at most once per animation frame by
// rewriting the cells whose text changed: however fast the log runs, a draw costs the same
// and the DOM does not grow. Scrolling moves the window over the newest KEPT events.
//
// The window follows the log while it is at the top. Paused, scrolled back or at a position
// jumped to, it holds still: the stream goes on into the ring until KEPT newer events wait,
// then stops, and goes on from there (no gap) once the window follows again. Any row opens
// its event as stored, with its hash.

import { Feed, get } from "/web/api.js";
import { h, message, when } from "/web/dom.js";

export const KEPT = 1000;  // events one can scroll back through
const BACKLOG = 100;  // events shown from before the page opened
const FILTERED_BACKLOG = 10 * KEPT;  // positions looked back through for a filter's events
const BEFORE_JUMP = 10;  // events shown from before a position jumped to
const ROW_PX = 24;  // every row is this tall (style.css), so a scroll offset names a row
// The least time between two draws: a log faster than anyone reads looks the same drawn ten
// times a second as sixty, for a sixth of the work; a quiet log's event is drawn at once.
const DRAW_MS = 100;

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
  const ring = new Ring(2 * KEPT);  // the window's KEPT, and as many newer waiting while it holds
  let feed = null, frame = 0, timer = 0, drawn = 0;
  let start = 0;  // the position the stream started after
  let paused = false;
  let jumped = null;  // the position jumped to, until the window follows again
  let jumpedAt = -1;  // the ordinal of the first event at or after it
  let jumpHead = 0, jumpTop = 0;  // the log's head at the jump, and the ordinal after it
  let top = 0;  // the ordinal after the newest event the window shows
  let first = 0;  // how many rows below ``top`` the window starts
  let stopped = false;  // the stream waits for the window to follow

  const rows = h("tbody", { id: "log-rows", onclick: (event) => {
    const button = event.target.closest("button");
    if (button) open(Number(button.closest("tr").dataset.position));
  } });
  const sizer = h("div", { class: "log-sizer" });
  const box = h("div", { class: "log-scroll", tabindex: "0", role: "region", "aria-label": "Events, newest first" }, sizer);
  const detail = h("section", { id: "event-detail", "aria-label": "The chosen event", tabindex: "-1" });
  const state = h("p", { id: "log-state", role: "status" });
  const behind = h("p", { id: "log-behind" });
  const input = (id, label, placeholder) => [h("label", { for: id }, label), h("input", { id, placeholder, size: 14 })];
  const filters = h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); apply(); } },
    input("f-tags", "Tags", "session.completed,…"), input("f-queue", "Queue", ""), input("f-batch", "Batch", ""),
    input("f-session", "Session", ""), h("button", { type: "submit" }, "Apply"));
  const pause = h("button", { type: "button", id: "log-pause", "aria-pressed": "false", onclick: () => (holding() ? follow() : hold()) }, "Pause");
  const jumpInput = h("input", { id: "log-jump", type: "number", min: "1" });
  const jumpForm = h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); jumpTo(Number(jumpInput.value)); } },
    h("label", { for: "log-jump" }, "Jump to position"), jumpInput, h("button", { type: "submit" }, "Jump"), pause);

  // The pool: clones of one template, each with its cells at hand.
  const template = document.createElement("tr");
  template.innerHTML = "<td><button type=\"button\"></button></td><td></td><td></td><td></td><td></td>";
  const pool = [];

  function fitPool() {
    const wanted = Math.max(5, Math.ceil(box.clientHeight / ROW_PX));
    while (pool.length < wanted) {
      const tr = template.cloneNode(true);
      const cells = [...tr.children];
      pool.push({ tr, texts: [cells[0].firstChild, ...cells.slice(1)], shown: ["", "", "", "", ""], position: -1, jumped: false });
      rows.append(tr);
    }
    while (pool.length > wanted) pool.pop().tr.remove();
  }

  const holding = () => paused || jumped !== null || first > 0;

  function hold() { paused = true; schedule(); }

  function follow() {
    paused = false; jumped = null; first = 0; box.scrollTop = 0;
    if (stopped) { stopped = false; feed.start(); }  // on from the last event it gave
    schedule();
  }

  function schedule() {
    if (frame || timer) return;
    const wait = drawn + DRAW_MS - performance.now();
    if (wait <= 0) frame = requestAnimationFrame(draw);
    else timer = setTimeout(() => { timer = 0; frame = requestAnimationFrame(draw); }, wait);
  }

  function draw() {
    frame = 0;
    drawn = performance.now();
    let anchored = false;
    if (!holding()) top = ring.count;
    else if (jumped !== null && top < jumpTop) {
      anchored = true;
      // A jump fills the window from the position up to the head of the log as it was, the
      // event jumped to held in the middle.
      top = jumpTop;
      if (jumpedAt >= 0) first = Math.max(0, Math.min(top - 1 - jumpedAt - Math.floor(pool.length / 2), shown() - pool.length));
    }
    const height = `${(shown() + 1) * ROW_PX}px`;  // a row more for the head of the table
    if (sizer.style.height !== height) sizer.style.height = height;
    // Set after the height, which bounds it; the scroll event it fires finds it in place.
    if (anchored && box.scrollTop !== first * ROW_PX) box.scrollTop = first * ROW_PX;
    // Written only when they change: a write outside the box is a layout of the whole page.
    const label = holding() ? "Follow the log" : "Pause";
    if (pause.textContent !== label) { pause.textContent = label; pause.setAttribute("aria-pressed", String(holding())); }
    const newer = ring.count - top;
    const why = paused ? "paused" : jumped !== null ? `at position ${jumped}` : first > 0 ? "scrolled back" : "";
    const note = why && `${why}${newer ? `: ${newer} newer events${stopped ? " (the stream waits)" : ""}` : ""}`;
    if (behind.textContent !== note) behind.textContent = note;
    for (let i = 0; i < pool.length; i += 1) fill(pool[i], top - 1 - first - i);
  }

  const shown = () => top - Math.max(ring.oldest(), top - KEPT);

  // Only the cells whose text changes are written: neighbouring events mostly share their
  // tag, queue and batch, and each write is a layout of its cell.
  function fill(row, ordinal) {
    const entry = ordinal >= top - shown() ? ring.at(ordinal) : null;
    const position = entry ? entry.position : -1;
    if (row.position === position) return;
    row.position = position;
    row.tr.hidden = !entry;
    const isJumped = Boolean(entry) && entry.position === jumped;
    if (row.jumped !== isJumped) { row.jumped = isJumped; row.tr.classList.toggle("jumped", isJumped); }
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
    const at = Math.max(0, Math.min(Math.floor(box.scrollTop / ROW_PX), shown() - pool.length));
    if (at === first) return;
    if (first > 0 && at === 0 && !paused && jumped === null) { follow(); return; }
    first = at;
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

  // Filters take the log again from a little before the newest event shown (further back
  // with a filter, which the server applies, so that rarer events fill the window too).
  function apply() {
    if (jumped !== null) { jumpTo(jumped); return; }
    const newest = ring.at(ring.count - 1)?.position ?? start;
    const filtered = ["f-tags", "f-queue", "f-batch", "f-session"].some((id) => root.querySelector(`#${id}`).value.trim());
    restart(Math.max(0, newest - (filtered ? FILTERED_BACKLOG : BACKLOG)));
  }

  function jumpTo(position) {
    jumped = position; jumpedAt = -1; jumpHead = context.now().head; jumpTop = 0;
    restart(Math.max(0, position - 1 - BEFORE_JUMP));
    open(position);
  }

  function restart(after) {
    feed?.close();
    start = after;
    ring.clear();
    top = 0; first = 0; box.scrollTop = 0; stopped = false;
    for (const row of pool) row.position = -2;
    schedule();
    const value = (id) => root.querySelector(`#${id}`).value.trim();
    feed = new Feed({
      after,
      raw: true,
      filters: { tags: value("f-tags"), queue_id: value("f-queue"), batch_id: value("f-batch"), session_id: value("f-session") },
      onEvent(position, tag, text) {
        if (position === null) return;
        context.seen(position);
        if (jumped !== null && jumpedAt < 0 && position >= jumped) jumpedAt = ring.count;
        ring.push({ position, tag, text, queue: "", batch: "", session: "" });
        if (jumped !== null && position <= jumpHead && ring.count <= KEPT) jumpTop = ring.count;
        // Held, the ring keeps the window's KEPT and KEPT newer; one more would overwrite.
        if (holding() && ring.count - Math.max(top, KEPT) >= KEPT) { stopped = true; feed.close(); }
        schedule();
      },
      onState(how, position) {
        context.connection(how, position);
        if (how !== "live") state.textContent = how === "reconnected" ? `reconnected after position ${position}` : "reconnecting…";
      },
    }).start();
  }

  sizer.append(h("table", { class: "log" }, h("caption", { class: "visually-hidden" }, `Events, newest first (up to ${KEPT})`),
    h("thead", {}, h("tr", {}, ["Position", "Tag", "Queue", "Batch", "Session"].map((c) => h("th", { scope: "col" }, c)))), rows));
  root.replaceChildren(h("h2", {}, "Log"), filters, jumpForm, state, behind,
    h("div", { class: "log-layout" }, h("div", {}, box), detail));  // the box in a block of its own: a layout boundary
  fitPool();
  const resized = new ResizeObserver(() => { fitPool(); for (const row of pool) row.position = -2; schedule(); });
  resized.observe(box);
  box.addEventListener("scroll", scrolled, { passive: true });
  const jump = Number(context.args[0]) || null;
  if (jump) jumpTo(jump);
  else restart(Math.max(0, context.head - BACKLOG));
  return () => { feed?.close(); cancelAnimationFrame(frame); clearTimeout(timer); resized.disconnect(); };
}
