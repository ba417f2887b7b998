// The log: a live tail with filters, pause and jump to a position. Events are buffered and
// drawn once per animation frame, and only the newest ROWS stay in the DOM, so the tab keeps
// up with a busy log. Any row opens its event as stored, with its hash.

import { Feed, get } from "/web/api.js";
import { h, message, when } from "/web/dom.js";

export const ROWS = 200;
const BACKLOG = 100;  // events shown from before the page opened

export function mount(root, context) {
  const jump = Number(context.args[0]) || null;
  let start = jump ? jump - 1 : Math.max(0, context.head - BACKLOG);
  let feed = null, paused = false, missed = 0, frame = 0;
  let pending = [];
  const rows = h("tbody", { id: "log-rows" });
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

  function draw() {
    frame = 0;
    const batch = pending.length > ROWS ? pending.slice(-ROWS) : pending;
    pending = [];
    const fragment = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i -= 1) fragment.append(row(batch[i]));
    rows.prepend(fragment);
    while (rows.childElementCount > ROWS) rows.lastElementChild.remove();
  }

  function row([position, tag, data]) {
    const tr = document.createElement("tr");
    tr.dataset.position = String(position);
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = String(position);
    button.setAttribute("aria-label", `Open event ${position}`);
    button.addEventListener("click", () => open(position));
    const first = document.createElement("td");
    first.append(button);
    tr.append(first);
    for (const text of [tag, data.queue_id || "", data.batch_id || "", data.session_id || data.node_id || ""]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
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
      h("table", { class: "log" }, h("caption", {}, `The newest ${ROWS} events, newest first`),
        h("thead", {}, h("tr", {}, ["Position", "Tag", "Queue", "Batch", "Session"].map((c) => h("th", { scope: "col" }, c)))), rows),
      detail));
  restart();
  if (jump) open(jump);
  return () => { feed?.close(); cancelAnimationFrame(frame); };
}
