// A session: a timeline of its nodes (a bar per node from its measured start and end, cached
// nodes marked), the running node's live progress, each node's outputs with images inline,
// errors with their traceback, and the session's own events.

import { artifactUrl, get } from "/web/api.js";
import { h, message, seconds, throttled, when } from "/web/dom.js";
import { values } from "/web/views/batch.js";

function timeline(events) {
  const runs = events.filter((e) => e.tag === "invocation.completed" || e.tag === "invocation.failed")
    .map((e) => ({ node: e.data.node_id, type: e.data.node_type, failed: e.tag === "invocation.failed",
      cached: Boolean(e.data.cached), start: Date.parse(e.data.measurement.started_at), end: Date.parse(e.data.measurement.ended_at),
      wall: e.data.measurement.wall_seconds }))
    .filter((r) => !Number.isNaN(r.start));
  if (!runs.length) return h("p", {}, "No node has finished yet.");
  const first = Math.min(...runs.map((r) => r.start));
  const span = Math.max(1, Math.max(...runs.map((r) => r.end || r.start)) - first);
  return h("ol", { class: "gantt", "aria-label": "Timeline of the session's nodes" }, runs.map((r) => {
    const left = (100 * (r.start - first)) / span, width = Math.max(0.5, (100 * ((r.end || r.start) - r.start)) / span);
    const label = `${r.node} (${r.type}): ${seconds(r.wall)}${r.cached ? ", from the cache" : ""}${r.failed ? ", failed" : ""}`;
    return h("li", {}, h("span", { class: "gantt-label" }, r.node, r.cached ? h("abbr", { title: "cached", class: "cached" }, " ⚡ cached") : null),
      h("span", { class: "gantt-track" }, h("span", { class: `gantt-bar${r.failed ? " failed" : ""}${r.cached ? " cached" : ""}`,
        style: `left:${left}%;width:${width}%`, title: label, role: "img", "aria-label": label })));
  }));
}

function output(value, session, node) {
  if (value && typeof value === "object" && value.artifact && value.kind === "image") {
    const img = h("img", { alt: `Image output of node ${node} of session ${session}`, width: value.size?.[0], height: value.size?.[1] });
    artifactUrl(value.artifact).then((url) => { img.src = url; });
    return img;
  }
  return h("code", {}, JSON.stringify(value));
}

export function mount(root, context) {
  const id = context.args[0] || "";
  const q = encodeURIComponent(context.queue), s = encodeURIComponent(id);
  const progress = h("div", { id: "progress", role: "status", "aria-live": "polite" });
  const body = h("div");

  async function load() {
    const [detail, events] = await Promise.all([get(`/queue/${q}/s/${s}`), get(`/queue/${q}/s/${s}/events`)]);
    const view = detail.session;
    const results = Object.entries(detail.results).map(([node, outputs]) => h("tr", {},
      h("th", { scope: "row" }, node),
      h("td", {}, Object.entries(outputs).filter(([k]) => k !== "type").map(([k, v]) => h("div", { class: "output" }, h("span", {}, `${k}: `), output(v, id, node))))));
    const errors = Object.entries(detail.errors).map(([node, e]) => h("details", { class: "error-detail", open: true },
      h("summary", {}, `${node}: ${e.error_type}: ${e.message}`), h("pre", {}, e.traceback || "(no traceback)")));
    body.replaceChildren(
      h("p", {}, `State ${view.state}, attempt ${view.attempt}, worker ${view.worker_id || "–"} · batch `,
        h("a", { href: `#/batch/${encodeURIComponent(view.batch_id)}` }, view.batch_id), " · ",
        h("a", { href: `#/gallery/session/${s}` }, "its images")),
      h("p", {}, `Values: ${values(view.field_values) || "none"}`),
      h("h3", {}, "Timeline"), timeline(events),
      h("h3", {}, "Outputs"), results.length ? h("table", { class: "outputs" }, h("tbody", {}, results)) : h("p", {}, "No outputs yet."),
      errors.length ? h("div", {}, h("h3", {}, "Errors"), errors) : "",
      h("h3", {}, "Its events"),
      h("ol", { class: "events" }, events.map((e) => h("li", {},
        h("a", { href: `#/log/${e.position}` }, `#${e.position}`), ` ${e.tag} at ${when(e.recorded_at)}`))));
  }

  root.replaceChildren(h("h2", {}, `Session ${id}`), progress, body);
  const refresh = throttled(() => load().catch((e) => message(body, e.message, "alert")));
  const off = context.on((position, tag, data) => {
    if (data.session_id !== id) return;
    if (tag === "invocation.progress") {
      const percent = Math.round(100 * data.fraction);
      progress.replaceChildren(h("label", { for: "node-progress" }, `${data.node_id}: ${data.message || ""} ${percent}%`),
        h("progress", { id: "node-progress", max: "100", value: String(percent) }));
    } else {
      if (tag.startsWith("invocation.") && tag !== "invocation.started") progress.replaceChildren();
      refresh();
    }
  });
  load().catch((e) => message(body, e.message, "alert"));
  return off;
}
