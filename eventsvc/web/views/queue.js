// The queue: a picker of every queue the service knows, the chosen one's counts by state,
// paused or not, and its batches newest first with progress, priority, age and actions.
// Live, it refreshes on the queue's own events (and the picker when a queue it does not list
// appears); in the past it shows a replay of the log up to the chosen position, read-only.
// The markup is built once and updated in place, so a refresh never takes the keyboard focus
// or a half-typed priority away.

import { get, send } from "/web/api.js";
import { age, h, progressBar, setProgress, throttled } from "/web/dom.js";

const STATES = ["uninitialized", "in_progress", "completed", "failed", "canceled"];
const PAGE = 20;

export function mount(root, context) {
  const q = encodeURIComponent(context.queue);
  const live = context.past === null;
  const cursors = [null];  // the before= of each page seen so far
  let page = 0;
  let paused = false;
  const known = new Set([context.queue]);

  const picker = h("select", { id: "queue-pick", onchange: () => context.go(`queue/${encodeURIComponent(picker.value)}`) });
  const title = h("span", { class: "paused", "data-paused": "false" });
  const alerts = h("div", { role: "alert" });
  const counts = Object.fromEntries(STATES.map((s) => [s, h("dd", { "data-state": s }, "–")]));
  const pauseButton = h("button", { type: "button", id: "queue-pause", onclick: () =>
    act(() => send("PUT", `/queue/${q}/processor/${paused ? "resume" : "pause"}`)) }, "Pause");
  const caption = h("caption", {}, "Batches, newest first");
  const rows = h("tbody", {});
  const pageLabel = h("span", {}, "page 1");
  const newer = h("button", { type: "button", disabled: true, onclick: () => { page -= 1; load().catch(fail); } }, "Newer");
  const older = h("button", { type: "button", disabled: true, onclick: () => { page += 1; load().catch(fail); } }, "Older");
  const shown = new Map();  // batch id -> its row's parts

  root.replaceChildren(
    h("h2", {}, `Queue ${context.queue}`, title),
    h("form", { class: "pager", onsubmit: (event) => event.preventDefault() }, h("label", { for: "queue-pick" }, "Queue"), picker),
    alerts,
    h("dl", { class: "counts", "aria-label": "Sessions by state" }, STATES.map((s) => [h("dt", {}, s.replace("_", " ")), counts[s]])),
    live ? h("div", { class: "actions" }, pauseButton,
      h("button", { type: "button", onclick: () => act(() => send("PUT", `/queue/${q}/prune`)) }, "Prune finished")) : null,
    h("table", { class: "batches" }, caption,
      h("thead", {}, h("tr", {}, ["Batch", "Progress", "Sessions", "Priority", "Age", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
      rows),
    live ? h("nav", { class: "pager", "aria-label": "Batch pages" }, newer, pageLabel, older) : null);

  async function loadQueues() {
    const found = await get("/queues", { limit: 500 });
    const listed = new Map(found.items.map((item) => [item.queue_id, item]));
    for (const id of listed.keys()) known.add(id);
    const focused = document.activeElement === picker;
    picker.replaceChildren(...[...known].sort().map((id) => {
      const item = listed.get(id);
      const note = item ? ` (${item.batches} batches${item.paused ? ", paused" : ""})` : "";
      return h("option", { value: id, selected: id === context.queue }, `${id}${note}`);
    }));
    if (focused) picker.focus();
  }

  async function load() {
    if (!live) {
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
    try { await work(); alerts.replaceChildren(); } catch (error) { alerts.replaceChildren(h("p", { class: "error" }, error.message)); }
    refresh();
  }

  function render(status, batches, next) {
    paused = status.paused;
    title.dataset.paused = String(paused);
    title.textContent = paused ? " (paused)" : " (running)";
    pauseButton.textContent = paused ? "Resume" : "Pause";
    for (const s of STATES) counts[s].textContent = String(status.counts[s]);
    caption.textContent = `${status.batches} batches, newest first`;
    newer.disabled = page === 0;
    older.disabled = next === null;
    pageLabel.textContent = `page ${page + 1}`;
    const wanted = batches.map((batch) => {
      const row = shown.get(batch.batch_id) || batchRow(batch);
      update(row, batch);
      return row;
    });
    const ids = new Set(batches.map((b) => b.batch_id));
    for (const id of [...shown.keys()]) if (!ids.has(id)) shown.delete(id);
    for (const row of wanted) shown.set(row.id, row);
    // Only the rows out of place are moved (a new batch goes in above the others): a row
    // taken out and put back would lose the focus it holds.
    wanted.forEach((row, i) => { if (rows.children[i] !== row.tr) rows.insertBefore(row.tr, rows.children[i] || null); });
    while (rows.children.length > wanted.length) rows.lastElementChild.remove();
  }

  function batchRow(batch) {
    const id = batch.batch_id, b = encodeURIComponent(id);
    const priority = h("input", { type: "number", value: String(batch.priority), "aria-label": `Priority of ${id}`, class: "priority" });
    const retry = h("button", { type: "button", onclick: () => act(() => retryFailed(id)) }, "Retry failed");
    const row = {
      id, priority, retry,
      bar: progressBar(batch.counts, batch.session_count),
      done: h("td", { class: "done" }),
      value: h("td", { class: "priority-value" }),
      age: h("td", {}),
      shownPriority: batch.priority,
    };
    const actions = live ? [
      h("button", { type: "button", onclick: () => act(() => send("PUT", `/queue/${q}/cancel_by_batch_ids`, { batch_ids: [id] })) }, "Cancel"),
      priority,
      h("button", { type: "button", onclick: () => act(() => send("PUT", `/queue/${q}/b/${b}/priority`, { priority: Number(priority.value) })) }, "Set priority"),
      retry,
    ] : [];
    row.tr = h("tr", { "data-batch": id },
      h("th", { scope: "row" }, h("a", { href: `#/batch/${b}` }, id)),
      h("td", {}, row.bar), row.done, row.value, row.age, h("td", { class: "actions" }, actions));
    return row;
  }

  function update(row, batch) {
    const done = batch.counts.completed + batch.counts.failed + batch.counts.canceled;
    setProgress(row.bar, batch.counts, batch.session_count);
    row.done.textContent = `${done} / ${batch.session_count}`;
    row.value.textContent = String(batch.priority);
    row.age.textContent = age(batch.enqueued_at);
    row.retry.hidden = !batch.counts.failed;
    // The field follows the batch unless someone is typing a new priority into it.
    if (document.activeElement !== row.priority && row.shownPriority !== batch.priority) row.priority.value = String(batch.priority);
    row.shownPriority = batch.priority;
  }

  async function retryFailed(batchId) {
    const failed = await get(`/queue/${q}/sessions`, { batch_id: batchId, state: "failed", limit: 1000 });
    if (failed.items.length) await send("PUT", `/queue/${q}/retry_sessions`, { session_ids: failed.items.map((s) => s.session_id) });
  }

  const fail = (e) => alerts.replaceChildren(h("p", { class: "error" }, e.message));
  const refresh = throttled(() => load().catch(fail));
  const refreshQueues = throttled(() => loadQueues().catch(fail), 1000);
  const off = live
    ? context.on((position, tag, data) => {
      if (position === null) return;
      if (data.queue_id === context.queue) refresh();
      if (data.queue_id && !known.has(data.queue_id)) refreshQueues();
    })
    : () => {};
  load().catch(fail);
  loadQueues().catch(fail);
  return off;
}
