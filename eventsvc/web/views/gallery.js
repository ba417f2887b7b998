// The images of a batch or a session as a grid; each enlarges on click and links to its
// session and node. Without a batch named, the newest batch of the queue is shown.

import { artifactUrl, get } from "/web/api.js";
import { h, message, throttled } from "/web/dom.js";

export function mount(root, context) {
  const [scope = "", id = ""] = context.args;
  const q = encodeURIComponent(context.queue);
  const grid = h("ul", { class: "gallery" });
  const enlarged = h("dialog", { id: "enlarged", "aria-label": "Enlarged image" });
  enlarged.addEventListener("click", () => enlarged.close());
  let after = 0, which = null;

  async function target() {
    if (scope === "batch" || scope === "session") return [scope, id];
    const newest = await get(`/queue/${q}/batches`, { limit: 1 });
    return newest.items.length ? ["batch", newest.items[0].batch_id] : null;
  }

  async function more() {
    which = which || await target();
    if (!which) { message(grid, "No batch yet."); return; }
    const [kind, name] = which;
    const path = kind === "batch" ? `/queue/${q}/b/${encodeURIComponent(name)}/artifacts` : `/queue/${q}/s/${encodeURIComponent(name)}/artifacts`;
    const page = await get(path, { kind: "image", after, limit: 60 });
    root.querySelector("h2").textContent = `Images of ${kind} ${name}`;
    for (const item of page.items) grid.append(tile(item));
    if (page.items.length) after = page.items[page.items.length - 1].position;
  }

  function tile(item) {
    const alt = `Output ${item.field} of node ${item.node_id} (${item.node_type}) in session ${item.session_id}`;
    const img = h("img", { alt, width: item.width, height: item.height, loading: "lazy" });
    artifactUrl(item.sha256).then((url) => { img.src = url; });
    const open = h("button", { type: "button", class: "tile", "aria-label": `Enlarge: ${alt}`, onclick: async () => {
      enlarged.replaceChildren(h("img", { src: await artifactUrl(item.sha256), alt }), h("p", {}, alt));
      enlarged.showModal();
    } }, img);
    return h("li", {}, open, h("a", { href: `#/session/${encodeURIComponent(item.session_id)}` }, `${item.session_id} · ${item.node_id}`));
  }

  root.replaceChildren(h("h2", {}, "Images"), grid, enlarged);
  const refresh = throttled(() => more().catch((e) => message(grid, e.message, "alert")), 500);
  const off = context.on((position, tag, data) => {
    if (tag === "invocation.completed" && which && (which[0] === "batch" ? data.batch_id : data.session_id) === which[1]) refresh();
  });
  more().catch((e) => message(grid, e.message, "alert"));
  return off;
}
