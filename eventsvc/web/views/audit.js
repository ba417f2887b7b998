// Audit and health: start an audit (a background job on the server, one at a time) and see
// its findings by position, each linked to its event; and the service's health, refreshed
// as the log moves.

import { get, send } from "/web/api.js";
import { h, message, table, throttled } from "/web/dom.js";

export function mount(root, context) {
  const health = h("section", { "aria-label": "Health" });
  const report = h("section", { id: "audit-report", "aria-label": "Audit", "aria-live": "polite" });
  const start = h("button", { type: "button", id: "audit-start", onclick: async () => {
    try { showAudit(await send("POST", "/audit")); } catch (error) { message(report, error.message, "alert"); }
  } }, "Start an audit");

  function showAudit(audit) {
    start.disabled = audit.state === "running";
    const findings = audit.findings.map((f) => [h("a", { href: `#/log/${f.position}` }, String(f.position)), f.check, f.stream || "", f.reason]);
    report.replaceChildren(
      h("p", { id: "audit-state", "data-state": audit.state }, {
        idle: "No audit has run since the service started.", running: "The audit is running…",
        done: audit.findings_total ? `${audit.findings_total} findings in ${audit.events} events.` : `Clean: ${audit.events} events, anchor ${audit.anchor}.`,
        failed: `The audit failed: ${audit.error}`,
      }[audit.state]),
      findings.length ? table("Findings by position", ["Position", "Check", "Stream", "Reason"], findings) : "");
    // The job's end is no event of the log: the server answers this call when it ends.
    if (audit.state === "running") refreshAudit(30).catch((e) => message(report, e.message, "alert"));
  }

  async function refreshAudit(wait = 0) { showAudit(await get("/audit", { wait: wait || null })); }

  async function loadHealth() {
    const now = await get("/health");
    const lag = Object.entries(now.projection_lag).map(([name, n]) => [name, String(n)]);
    health.replaceChildren(h("h3", {}, "Health"),
      h("dl", { class: "counts" }, h("dt", {}, "store"), h("dd", {}, now.store), h("dt", {}, "head"), h("dd", { id: "health-head" }, String(now.head)),
        h("dt", {}, "subscribers"), h("dd", {}, String(now.subscribers)), h("dt", {}, "live workers"), h("dd", {}, String(now.workers_alive))),
      table("Projection lag (events to fold)", ["Projection", "Lag"], lag));
  }

  root.replaceChildren(h("h2", {}, "Audit and health"), start, report, health);
  const refresh = throttled(() => loadHealth().catch((e) => message(health, e.message, "alert")), 1000);
  const off = context.on((position) => { if (position !== null) refresh(); });
  loadHealth().catch((e) => message(health, e.message, "alert"));
  refreshAudit().catch((e) => message(report, e.message, "alert"));
  return off;
}
