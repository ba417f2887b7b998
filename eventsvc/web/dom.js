// Small helpers for building markup: elements, tables, and how numbers and times read.

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

export function table(caption, columns, rows) {
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value === 0) return "0 s";
  if (value < 0.001) return `${(value * 1e6).toFixed(0)} µs`;
  if (value < 1) return `${(value * 1000).toFixed(value < 0.01 ? 2 : 1)} ms`;
  return `${value.toFixed(2)} s`;
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let size = Math.abs(value), unit = 0;
  while (size >= 1024 && unit < units.length - 1) { size /= 1024; unit += 1; }
  return `${value < 0 ? "-" : ""}${size.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function age(micros) {
  const elapsed = Math.max(0, Date.now() / 1000 - micros / 1e6);
  if (elapsed < 60) return `${Math.round(elapsed)} s`;
  if (elapsed < 3600) return `${Math.round(elapsed / 60)} min`;
  if (elapsed < 86400) return `${(elapsed / 3600).toFixed(1)} h`;
  return `${(elapsed / 86400).toFixed(1)} d`;
}

export function when(micros) {
  return micros ? new Date(micros / 1000).toISOString().replace("T", " ").slice(0, 23) : "–";
}

export function message(root, text, role = "status") {
  root.replaceChildren(h("p", { role, class: role === "alert" ? "error" : "" }, text));
}

// Calls ``work`` at most once per ``delay`` ms after something changed (events are bursty).
export function throttled(work, delay = 300) {
  let timer = null, again = false;
  const run = async () => {
    again = false;
    try { await work(); } finally {
      timer = again ? setTimeout(run, delay) : null;
    }
  };
  return () => {
    if (timer) { again = true; return; }
    timer = setTimeout(run, delay);
  };
}

export function progressBar(counts, total) {
  const bar = h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0" },
    h("span", { class: "completed" }), h("span", { class: "failed" }), h("span", { class: "canceled" }));
  setProgress(bar, counts, total);
  return bar;
}

// Updates a bar of ``progressBar`` in place.
export function setProgress(bar, counts, total) {
  const part = (n) => `${total ? (100 * n) / total : 0}%`;
  const done = counts.completed + counts.failed + counts.canceled;
  const label = `${done} of ${total} finished: ${counts.completed} completed, ${counts.failed} failed, ${counts.canceled} canceled`;
  bar.setAttribute("aria-valuemax", String(total));
  bar.setAttribute("aria-valuenow", String(done));
  bar.setAttribute("aria-label", label);
  bar.title = label;
  const [completed, failed, canceled] = bar.children;
  completed.style.width = part(counts.completed);
  failed.style.width = part(counts.failed);
  canceled.style.width = part(counts.canceled);
}
