// Stats per node type (calls, cache hits, mean and p95 seconds, max VRAM, and the RAM change
// of the whole), a chart of node durations by type, and one of sessions completed over time
// as this page sees them. In the past, the stats come from a replay up to the position.

import uPlot from "/web/vendor/uPlot.esm.js";
import { get } from "/web/api.js";
import { bytes, h, message, seconds, table, throttled } from "/web/dom.js";

export function statsTable(summary, caption) {
  const rows = summary.node_types.map((t) => [t.node_type, String(t.calls), String(t.cache_hits),
    seconds(t.mean_seconds), seconds(t.p95_seconds), bytes(t.max_vram)]);
  return h("div", { class: "stats" },
    table(caption, ["Node type", "Calls", "Cache hits", "Mean", "p95", "Max VRAM"], rows),
    h("p", {}, `${summary.sessions} sessions, ${seconds(summary.execution_seconds)} of node time, RAM change ${bytes(summary.ram_change)}`));
}

function chart(target, title, series, data, options = {}) {
  const width = Math.max(320, Math.min(720, target.clientWidth || 640));
  return new uPlot({ title, width, height: 220, series, ...options }, data, target);
}

function durations(target, summary) {
  const types = summary.node_types;
  target.replaceChildren();
  const alt = types.map((t) => `${t.node_type}: mean ${seconds(t.mean_seconds)}, p95 ${seconds(t.p95_seconds)}`).join("; ");
  target.setAttribute("aria-label", `Node durations by type. ${alt || "No node has run."}`);
  if (!types.length) return;
  const bars = uPlot.paths.bars({ size: [0.6, 60] });
  chart(target, "Node durations by type (s)", [
    { label: "type", value: (u, i) => types[i]?.node_type ?? "" },
    { label: "mean", stroke: "#2b6cb0", fill: "#2b6cb088", paths: bars },
    { label: "p95", stroke: "#c05621", width: 2, paths: () => null, points: { show: true, size: 9, fill: "#c05621" } },
  ], [types.map((_, i) => i), types.map((t) => t.mean_seconds), types.map((t) => t.p95_seconds)], {
    scales: { x: { time: false, range: [-0.5, types.length - 0.5] } },
    axes: [{ values: (u, ticks) => ticks.map((i) => types[i]?.node_type ?? "") , splits: () => types.map((_, i) => i) }, {}],
  });
}

export function mount(root, context) {
  const tableArea = h("div");
  const durationChart = h("figure", { class: "chart", role: "img" });
  const completedChart = h("figure", { class: "chart", role: "img", "aria-label": "Sessions completed over time: none yet" });
  const completions = new Map();  // second -> sessions completed in it
  let plot = null;

  async function load() {
    const summary = context.past === null ? await get("/stats/node_types") : (await get(`/as_of/${context.past}/stats`)).stats;
    tableArea.replaceChildren(statsTable(summary, context.past === null ? "Per node type" : `Per node type at position ${context.past}`));
    durations(durationChart, summary);
  }

  function drawCompleted() {
    const seconds_ = [...completions.keys()].sort((a, b) => a - b);
    const counts = seconds_.map((s) => completions.get(s));
    completedChart.setAttribute("aria-label", `Sessions completed over time since this page opened: ${counts.reduce((a, b) => a + b, 0)} in ${seconds_.length} seconds`);
    if (seconds_.length < 2) return;
    if (plot) { plot.setData([seconds_, counts]); return; }
    completedChart.replaceChildren();
    plot = chart(completedChart, "Sessions completed per second", [{}, { label: "completed", stroke: "#2f855a", fill: "#2f855a44" }], [seconds_, counts]);
  }

  root.replaceChildren(h("h2", {}, "Stats"), tableArea, durationChart, context.past === null ? completedChart : "");
  const refresh = throttled(() => load().catch((e) => message(tableArea, e.message, "alert")), 500);
  const redraw = throttled(async () => drawCompleted(), 500);
  const off = context.past !== null ? () => {} : context.on((position, tag) => {
    if (tag === "session.completed") {
      const second = Math.floor(Date.now() / 1000);
      completions.set(second, (completions.get(second) || 0) + 1);
      redraw();
    }
    if (tag === "invocation.completed" || tag === "invocation.failed") refresh();
  });
  load().catch((e) => message(tableArea, e.message, "alert"));
  return () => { off(); plot?.destroy(); };
}
