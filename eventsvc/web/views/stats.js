// Stats per node type (calls, cache hits, failures, mean and p95 seconds, max VRAM, RAM
// change), a chart of node durations by type and one of sessions ended per minute. Both
// start from the server's history (/stats/node_types, /stats/completions) and follow the
// stream: a node's end reloads the summary, a session's end counts into its minute. In the
// past, the stats come from a replay up to the position.

import uPlot from "/web/vendor/uPlot.esm.js";
import { ApiError, get } from "/web/api.js";
import { bytes, h, seconds, table, throttled } from "/web/dom.js";

const ENDED = { "session.completed": "completed", "session.failed": "failed", "session.canceled": "canceled" };
const MINUTE = 60;
const MOST_MINUTES = 10080;  // the longest history the server gives, and the chart keeps
const SHORTEST = 30;  // minutes the chart shows at least

const count = (value) => (value === null || value === undefined ? "–" : String(value));

export function statsTable(summary, caption) {
  const rows = summary.node_types.map((t) => [t.node_type, String(t.calls), String(t.cache_hits), count(t.failures),
    seconds(t.mean_seconds), seconds(t.p95_seconds), bytes(t.max_vram), bytes(t.ram_change)]);
  return h("div", { class: "stats" },
    table(caption, ["Node type", "Calls", "Cache hits", "Failures", "Mean", "p95", "Max VRAM", "RAM change"], rows),
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
    axes: [{ values: (u, ticks) => ticks.map((i) => types[i]?.node_type ?? ""), splits: () => types.map((_, i) => i) }, {}],
  });
}

const clock = (minute) => new Date(minute * 1000).toISOString().slice(11, 16);

// Sessions ended per minute: the server's buckets, then what the stream adds.
class Completions {
  constructor(target) { this.target = target; this.minutes = new Map(); this.plot = null; this.history = false; }

  load(answer) {
    for (const bucket of answer.buckets) {
      const minute = Math.floor(Date.parse(bucket.at) / 1000 / MINUTE) * MINUTE;
      this.minutes.set(minute, { completed: bucket.completed, failed: bucket.failed, canceled: bucket.canceled });
    }
    this.history = true;
  }

  count(state) {
    // The event carries no time of its own; it has just happened, so it counts into this minute.
    const minute = Math.floor(Date.now() / 1000 / MINUTE) * MINUTE;
    const bucket = this.minutes.get(minute) || { completed: 0, failed: 0, canceled: 0 };
    bucket[state] += 1;
    this.minutes.set(minute, bucket);
  }

  // Every minute from the first with an ended session (or half an hour back) to now, the
  // empty ones as zero.
  series() {
    const now = Math.floor(Date.now() / 1000 / MINUTE) * MINUTE;
    const first = Math.max(Math.min(now - SHORTEST * MINUTE, ...this.minutes.keys()), now - (MOST_MINUTES - 1) * MINUTE);
    const xs = [], done = [], failed = [], canceled = [];
    for (let minute = first; minute <= now; minute += MINUTE) {
      const bucket = this.minutes.get(minute);
      xs.push(minute); done.push(bucket?.completed || 0); failed.push(bucket?.failed || 0); canceled.push(bucket?.canceled || 0);
    }
    return { xs, done, failed, canceled };
  }

  draw() {
    const { xs, done, failed, canceled } = this.series();
    const sum = (values) => values.reduce((a, b) => a + b, 0);
    const busiest = done.reduce((best, n, i) => (n > done[best] ? i : best), 0);
    const source = this.history ? "" : " (since this page opened: the server keeps no history of them)";
    this.target.setAttribute("aria-label", `Sessions ended per minute from ${clock(xs[0])} to ${clock(xs[xs.length - 1])} UTC${source}: `
      + `${sum(done)} completed, ${sum(failed)} failed, ${sum(canceled)} canceled`
      + (done[busiest] ? `; the most completed in one minute: ${done[busiest]} at ${clock(xs[busiest])}.` : "."));
    this.target.dataset.completed = String(sum(done));
    // Stacked bars: each series is drawn as the sum of itself and those below it, the tallest
    // first, so that each shows as its own band; the legend reads the series' own counts.
    const parts = [done, failed, canceled];
    const stacked = [xs, done.map((n, i) => n + failed[i] + canceled[i]), done.map((n, i) => n + failed[i]), done];
    if (this.plot) { this.plot.setData(stacked); return; }
    this.target.replaceChildren();
    const bars = uPlot.paths.bars({ size: [0.8, 40], align: 1 });
    const own = (part) => (u, v, si, i) => (i === null || i === undefined ? "--" : String(parts[part][i]));
    this.plot = chart(this.target, "Sessions ended per minute (UTC)", [
      { label: "minute", value: (u, v) => (v === null ? "" : clock(v)) },
      { label: "canceled", stroke: "#718096", fill: "#a0aec0", paths: bars, points: { show: false }, value: own(2) },
      { label: "failed", stroke: "#c53030", fill: "#e53e3e", paths: bars, points: { show: false }, value: own(1) },
      { label: "completed", stroke: "#2f855a", fill: "#38a169", paths: bars, points: { show: false }, value: own(0) },
    ], stacked, { scales: { x: { time: true } }, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC") });
  }

  destroy() { this.plot?.destroy(); }
}

export function mount(root, context) {
  const tableArea = h("div");
  const alerts = h("div", { role: "alert" });
  const durationChart = h("figure", { class: "chart", id: "durations-chart", role: "img", "aria-label": "Node durations by type: loading" });
  const endedChart = h("figure", { class: "chart", id: "completions-chart", role: "img", "aria-label": "Sessions ended per minute: loading" });
  const ended = new Completions(endedChart);
  const fail = (e) => alerts.replaceChildren(h("p", { class: "error" }, e.message));

  async function load() {
    const summary = context.past === null ? await get("/stats/node_types") : (await get(`/as_of/${context.past}/stats`)).stats;
    tableArea.replaceChildren(statsTable(summary, context.past === null ? "Per node type" : `Per node type at position ${context.past}`));
    durations(durationChart, summary);
  }

  async function loadEnded() {
    try { ended.load(await get("/stats/completions")); } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;  // a server without the route
    }
    ended.draw();
  }

  root.replaceChildren(h("h2", {}, "Stats"), alerts, tableArea, durationChart, context.past === null ? endedChart : "");
  const refresh = throttled(() => load().catch(fail), 500);
  const redraw = throttled(async () => ended.draw(), 500);
  let following = false;  // what ended before the history's answer is in it
  const off = context.past !== null ? () => {} : context.on((position, tag) => {
    if (ENDED[tag] && following) { ended.count(ENDED[tag]); redraw(); }
    if (tag === "invocation.completed" || tag === "invocation.failed") refresh();
  });
  load().catch(fail);
  if (context.past === null) loadEnded().then(() => { following = true; }, fail);
  return () => { off(); ended.destroy(); };
}
