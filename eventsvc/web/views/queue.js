// The queue: counts by state, paused or not, and its batches newest first with progress,
// priority, age and actions. Live, it refreshes on the queue's own events; in the past it
// shows a replay of the log up to the chosen position, read-only.

import { get, send } from "/web/api.js";
import { age, h, message, progressBar, throttled } from "/web/dom.js";

const STATES = ["uninitialized", "in_progress", "completed", "failed", "canceled"];
const PAGE = 20;

export function mount(root, context) {
  const q = encodeURIComponent(context.queue);
  const cursors = [null];  // the before= of each page seen so far
  let page = 0;

  async function load() {
    if (context.past !== null) {
      const past = await get(`/as_of/${context.past}/queue/${q}`);
      render(past.status, past.batches, null);
      return;
    }
    const [status, batches] = await Promise.all([
      get(`/queue/${q}/status`),
      get(`/queue/${q}/batches`, { before: cursors[page], limit: PAGE }),
    ]);
    cursors[page + 1] = batches.next_before;
    render(status, batches.items, batches.next_before);
  }

  async function act(work) {
    try { await work(); } catch (error) { root.prepend(h("p", { role: "alert", class: "error" }, error.message)); }
    refresh();
  }

  function render(status, batches, older) {
    const live = context.past === null;
    const counts = h("dl", { class: "counts", "aria-label": "Sessions by state" },
      STATES.map((s) => [h("dt", {}, s.replace("_", " ")), h("dd", { "data-state": s }, String(status.counts[s]))]));
    const controls = live ? h("div", { class: "actions" },
      status.paused
        ? h("button", { type: "button", onclick: () => act(() => send("PUT", `/queue/${q}/processor/resume`)) }, "Resume")
        : h("button", { type: "button", onclick: () => act(() => send("PUT", `/queue/${q}/processor/pause`)) }, "Pause"),
      h("button", { type: "button", onclick: () => act(() => send("PUT", `/queue/${q}/prune`)) }, "Prune finished")) : null;
    const rows = batches.map((batch) => batchRow(batch, live));
    const pager = live ? h("nav", { class: "pager", "aria-label": "Batch pages" },
      h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); } }, "Newer"),
      h("span", {}, `page ${page + 1}`),
      h("button", { type: "button", disabled: older === null, onclick: () => { page += 1; load(); } }, "Older")) : null;
    root.replaceChildren(
      h("h2", {}, `Queue ${context.queue}`, h("span", { class: "paused", "data-paused": String(status.paused) }, status.paused ? " (paused)" : " (running)")),
      counts, controls,
      h("table", { class: "batches" },
        h("caption", {}, `${status.batches} batches, newest first`),
        h("thead", {}, h("tr", {}, ["Batch", "Progress", "Sessions", "Priority", "Age", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows)),
      pager);
  }

  function batchRow(batch, live) {
    const id = batch.batch_id, b = encodeURIComponent(id);
    const done = batch.counts.completed + batch.counts.failed + batch.counts.canceled;
    const priority = h("input", { type: "number", value: String(batch.priority), "aria-label": `Priority of ${id}`, class: "priority" });
    const actions = live ? [
      h("button", { type: "button", onclick: () => act(() => send("PUT", `/queue/${q}/cancel_by_batch_ids`, { batch_ids: [id] })) }, "Cancel"),
      priority,
      h("button", { type: "button", onclick: () => act(() => send("PUT", `/queue/${q}/b/${b}/priority`, { priority: Number(priority.value) })) }, "Set priority"),
      batch.counts.failed ? h("button", { type: "button", onclick: () => act(() => retryFailed(id)) }, "Retry failed") : null,
    ] : [];
    return h("tr", { "data-batch": id },
      h("th", { scope: "row" }, h("a", { href: `#/batch/${b}` }, id)),
      h("td", {}, progressBar(batch.counts, batch.session_count)),
      h("td", { class: "done" }, `${done} / ${batch.session_count}`),
      h("td", { class: "priority-value" }, String(batch.priority)),
      h("td", {}, age(batch.enqueued_at)),
      h("td", { class: "actions" }, actions));
  }

  async function retryFailed(batchId) {
    const failed = await get(`/queue/${q}/sessions`, { batch_id: batchId, state: "failed", limit: 1000 });
    if (failed.items.length) await send("PUT", `/queue/${q}/retry_sessions`, { session_ids: failed.items.map((s) => s.session_id) });
  }

  const refresh = throttled(() => load().catch((e) => message(root, e.message, "alert")));
  const off = context.past === null
    ? context.on((position, tag, data) => { if (position !== null && data.queue_id === context.queue) refresh(); })
    : () => {};
  load().catch((e) => message(root, e.message, "alert"));
  return off;
}
