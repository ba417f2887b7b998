// The log: a live tail with filters, pause and jump to a position. Events are buffered and
// drawn once per animation frame, and only the newest ROWS stay in the DOM, so the tab keeps
// up with a busy log. Any row opens its event as stored, with its hash.

import { Feed, get } from "/web/api.js";
import { h, message, when } from "/web/dom.js";

export const ROWS = 200;
const BACKLOG = 100;  // events shown from before the page opened
const PER_FRAME = 25;  // short frames: a faster log passes rows rather than stall the tab

export function mount(root, context) {
  const jump = Number(context.args[0]) || null;
  let start = jump ? jump - 1 : Math.max(0, context.head - BACKLOG);
  let feed = null, paused = false, missed = 0, frame = 0;
  let pending = [];
  const rows = h("tbody", { id: "log-rows", onclick: (event) => {
    const button = event.target.closest("button");
    if (button) open(Number(button.closest("tr").dataset.position));
  } });
  const detail = h("section", { id: "event-detail", "aria-label": "The chosen event", tabindex: "-1" });
  const state = h("p", { id: "log-state", role: "status" });
  const input = (id, label, placeholder) => [h("label", { for: id }, label), h("input", { id, placeholder, size: 14 })];
  const filters = h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); restart(); } },
    input("f-tags", "Tags", "session.completed,…"), input("f-queue", "Queue", ""), input("f-batch", "Batch", ""),
    input("f-session", "Session", ""), h("button", { type: "submit" }, "Apply"));
  const pause = h("button", { type: "button", id: "log-pause", "aria-pressed": "false", onclick: () => setPaused(!paused) }, "Pause");
  const jumpInput = h("input", { id: "log-jump", type: "number", min: "1" });
  const jumpForm = h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); start = Math.max(0, Number(jumpInput.value) - 1); restart(); open(Number(jumpInput.value)); } },
    h("label", { for: "log-jump" }, "Jump to position"), jumpInput, h("button", { type: "submit" }, "Jump"), pause);

  function setPaused(value) {
    paused = value;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) { missed = 0; schedule(); }
    state.textContent = paused ? "paused" : "";
  }

  function schedule() { if (!frame && !paused) frame = requestAnimationFrame(draw); }

  // A few rows a frame, oldest first, so that no frame is a long task however bursty the
  // stream; what would scroll out before it is drawn is never drawn at all.
  function draw() {
    frame = 0;
    if (pending.length > ROWS) {
      // Behind by more than the table holds: go on from the newest, and say what was passed.
      const passed = pending.length - ROWS;
      pending = pending.slice(-ROWS);
      rows.prepend(h("tr", { class: "passed" }, h("td", { colspan: "5" }, `… ${passed} events passed faster than they could be drawn`)));
    }
    const batch = pending.splice(0, PER_FRAME);
    const fragment = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i -= 1) fragment.append(row(batch[i]));
    rows.prepend(fragment);
    while (rows.childElementCount > ROWS) rows.lastElementChild.remove();
    if (pending.length) schedule();
  }

  // Rows are clones of one template, filled with text: the cheapest row the DOM can make.
  const template = document.createElement("tr");
  template.innerHTML = "<td><button type=\"button\"></button></td><td></td><td></td><td></td><td></td>";

  function row([position, tag, data]) {
    const tr = template.cloneNode(true);
    tr.dataset.position = String(position);
    const cells = tr.children;
    const button = cells[0].firstChild;
    button.textContent = String(position);
    button.setAttribute("aria-label", `Open event ${position}`);
    cells[1].textContent = tag;
    cells[2].textContent = data.queue_id || "";
    cells[3].textContent = data.batch_id || "";
    cells[4].textContent = data.session_id || data.node_id || "";
    return tr;
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
    rows.replaceChildren();
    pending = [];
    const value = (id) => root.querySelector(`#${id}`).value.trim();
    feed = new Feed({
      after: start,
      filters: { tags: value("f-tags"), queue_id: value("f-queue"), batch_id: value("f-batch"), session_id: value("f-session") },
      onEvent(position, tag, data) {
        if (position === null) return;
        pending.push([position, tag, data]);
        if (pending.length > 4 * ROWS) pending = pending.slice(-ROWS);
        if (paused) { missed += 1; state.textContent = `paused: ${missed} new`; } else schedule();
      },
      onState(how, position) { if (how !== "live") state.textContent = how === "reconnected" ? `reconnected after position ${position}` : "reconnecting…"; },
    }).start();
  }

  root.replaceChildren(h("h2", {}, "Log"), filters, jumpForm, state,
    h("div", { class: "log-layout" },
      h("div", { class: "log-scroll" }, h("table", { class: "log" }, h("caption", {}, `The newest ${ROWS} events, newest first`),
        h("thead", {}, h("tr", {}, ["Position", "Tag", "Queue", "Batch", "Session"].map((c) => h("th", { scope: "col" }, c)))), rows)),
      detail));
  restart();
  if (jump) open(jump);
  return () => { feed?.close(); cancelAnimationFrame(frame); };
}
