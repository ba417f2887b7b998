// A batch: its progress, its stats, and its sessions page by page. Sessions are numbered
// densely within a batch, so page p starts at index p * size whatever the batch's size:
// jumping to any page is one indexed query on the server.

import { get } from "/web/api.js";
import { h, progressBar, throttled } from "/web/dom.js";
import { statsTable } from "/web/views/stats.js";

const SIZE = 50;
const STATES = ["", "uninitialized", "in_progress", "completed", "failed", "canceled"];

export function values(fieldValues) {
  return fieldValues.map((v) => `${v.node_path}.${v.field_name} = ${JSON.stringify(v.value)}`).join(", ");
}

export function mount(root, context) {
  const id = context.args[0] || "";
  const q = encodeURIComponent(context.queue), b = encodeURIComponent(id);
  let page = 0, state = "";
  const head = h("div");
  const body = h("div");
  const stateSelect = h("select", { id: "state-filter", onchange: () => { state = stateSelect.value; page = 0; loadPage(); } },
    STATES.map((s) => h("option", { value: s }, s || "every state")));
  const pageInput = h("input", { id: "page-number", type: "number", min: "1", value: "1" });
  const controls = h("form", { class: "pager", onsubmit: (event) => { event.preventDefault(); page = Math.max(0, Number(pageInput.value) - 1); loadPage(); } },
    h("label", { for: "state-filter" }, "State"), stateSelect,
    h("label", { for: "page-number" }, "Page"), pageInput, h("span", { id: "page-count" }),
    h("button", { type: "submit" }, "Go"),
    h("button", { type: "button", onclick: () => { page = Math.max(0, page - 1); loadPage(); } }, "Previous"),
    h("button", { type: "button", onclick: () => { page += 1; loadPage(); } }, "Next"));
  let count = 0;

  async function loadHead() {
    const [status, stats] = await Promise.all([get(`/queue/${q}/b/${b}/status`), get(`/stats/batches/${b}`)]);
    count = status.session_count;
    const pages = Math.max(1, Math.ceil(count / SIZE));
    pageInput.max = String(pages);
    controls.querySelector("#page-count").textContent = ` of ${pages}`;
    head.replaceChildren(
      h("h2", {}, `Batch ${id}`),
      h("p", {}, `${count} sessions, priority ${status.priority}${status.canceled ? ", canceled" : ""} · `,
        h("a", { href: `#/gallery/batch/${b}` }, "its images")),
      progressBar(status.counts, count),
      statsTable(stats, `Stats of batch ${id}`));
  }

  async function loadPage() {
    const after = page > 0 ? `${id}.${page * SIZE - 1}` : null;
    const found = await get(`/queue/${q}/sessions`, { batch_id: id, state, after, limit: SIZE });
    pageInput.value = String(page + 1);
    body.replaceChildren(h("table", { class: "sessions" },
      h("caption", {}, `Sessions from index ${page * SIZE}${state ? `, ${state} only` : ""}`),
      h("thead", {}, h("tr", {}, ["Index", "Session", "State", "Attempt", "Field values", "Error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, found.items.map((s) => h("tr", { "data-state": s.state },
        h("td", {}, String(s.index)),
        h("th", { scope: "row" }, h("a", { href: `#/session/${encodeURIComponent(s.session_id)}` }, s.session_id)),
        h("td", {}, s.state), h("td", {}, String(s.attempt)),
        h("td", {}, values(s.field_values)),
        h("td", {}, s.error_type ? `${s.error_type}: ${s.error_message}` : ""))))));
  }

  const alerts = h("div", { role: "alert" });
  const fail = (e) => alerts.replaceChildren(h("p", { class: "error" }, e.message));
  root.replaceChildren(head, alerts, controls, body);
  const refresh = throttled(() => Promise.all([loadHead(), loadPage()]).catch(fail));
  const off = context.on((position, tag, data) => { if (position !== null && data.batch_id === id) refresh(); });
  loadHead().then(loadPage).catch(fail);
  return off;
}
