// The page: one live feed of the log shared by the views, the hash router, the token form
// and the time-travel control. Each view is a module with mount(root, context) -> unmount,
// given an element of its own: whatever a view still had in flight when the page moved on
// lands in an element no longer shown.

import { Feed, get, onUnauthorized, setToken } from "/web/api.js";
import { h } from "/web/dom.js";

const VIEWS = {
  queue: () => import("/web/views/queue.js"),
  batch: () => import("/web/views/batch.js"),
  session: () => import("/web/views/session.js"),
  log: () => import("/web/views/log.js"),
  stats: () => import("/web/views/stats.js"),
  gallery: () => import("/web/views/gallery.js"),
  audit: () => import("/web/views/audit.js"),
};
const TRAVELS = new Set(["queue", "stats"]);  // the views that can show the past
// The views that read a stream of their own: the page's is closed meanwhile (one stream a
// page), they report what they see through context.seen and context.connection, and the
// page's goes on after its last event once they are left.
const OWN_FEED = new Set(["log"]);

const QUEUE_KEY = "eventsvc.queue";  // the queue last picked, for this tab
const listeners = new Set();
const context = {
  queue: sessionStorage.getItem(QUEUE_KEY) || "default",
  head: 0,
  past: null,  // a position while showing the past
  on(listener) { listeners.add(listener); return () => listeners.delete(listener); },
  now() { return context; },  // a view's context is a copy taken when it mounted
  seen(position) { setHead(position); },
  connection(state, position) { showConnection(state, position); },
  go(path) { location.hash = `#/${path}`; },
};

const root = document.getElementById("view");
const connection = document.getElementById("connection");
const range = document.getElementById("travel-range");
const number = document.getElementById("travel-number");
const banner = document.getElementById("past-banner");
let unmount = () => {};
let feed = null;

let headTimer = 0;
const HEAD_MS = 250;

function setHead(position) {
  context.head = Math.max(context.head, position);
  // A few times a second: a busy log moves the head thousands of times a second, and each
  // change of the slider is a layout of the header.
  if (!headTimer) headTimer = setTimeout(() => requestAnimationFrame(drawHead), HEAD_MS);
}

function drawHead() {
  headTimer = 0;
  range.max = String(context.head);
  number.max = String(context.head);
  if (context.past === null && document.activeElement !== range) {
    range.value = range.max;
    if (document.activeElement !== number) number.value = range.max;
  }
}

function showConnection(state, position) {
  const text = { live: "live", reconnecting: "connection lost: reconnecting…",
    reconnected: `reconnected: resumed after position ${position}` }[state];
  connection.textContent = text;
  connection.dataset.state = state;
}

async function startFeed() {
  feed?.close();
  const health = await get("/health");
  setHead(health.head);
  feed = new Feed({
    after: health.head,
    raw: true,
    onEvent(position, tag, text) {
      if (position !== null) setHead(position);
      if (!listeners.size) return;  // the log view reads its own stream: nothing to parse
      const data = JSON.parse(text);
      for (const listener of listeners) listener(position, tag, data);
    },
    onState: showConnection,
  }).start();
}

let routed = 0;

async function route() {
  const turn = ++routed;
  const [name = "queue", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const view = VIEWS[name] ? name : "queue";
  if (view === "queue" && rest[0]) {
    // #/queue/<id> picks the queue the queue, batch, session and gallery views read.
    context.queue = decodeURIComponent(rest[0]);
    sessionStorage.setItem(QUEUE_KEY, context.queue);
  }
  unmount();
  unmount = () => {};
  if (OWN_FEED.has(view)) feed?.close();
  else if (feed?.closed) feed.start();
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${view}`);
  }
  document.body.dataset.view = view;
  const past = TRAVELS.has(view) ? context.past : null;
  banner.hidden = past === null;
  document.body.classList.toggle("past", past !== null);
  if (past !== null) banner.textContent = `Showing the past: the state at position ${past} of ${context.head}. Press “Now” to return.`;
  const module = await VIEWS[view]();
  if (turn !== routed) return;  // the page moved on while the module loaded
  const own = document.createElement("div");
  own.className = "view";
  root.replaceChildren(own);
  unmount = module.mount(own, { ...context, past, args: rest.map(decodeURIComponent) }) || (() => {});
}

function travel(position) {
  context.past = position === null ? null : Math.max(0, Math.min(context.head, position));
  if (context.past !== null) { range.value = String(context.past); number.value = String(context.past); }
  route();
}

range.addEventListener("input", () => { number.value = range.value; });
range.addEventListener("change", () => travel(Number(range.value)));
document.getElementById("travel-go").addEventListener("click", () => travel(Number(number.value)));
document.getElementById("travel-now").addEventListener("click", () => travel(null));

const tokenForm = document.getElementById("token-form");
onUnauthorized(() => { tokenForm.hidden = false; document.getElementById("token").focus(); });
tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setToken(document.getElementById("token").value);
  tokenForm.hidden = true;
  startFeed().then(route, () => {});
});

window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (event) => {
  // A failed call is shown in the view, not left to the console.
  event.preventDefault();
  (root.firstElementChild || root).append(h("p", { role: "alert", class: "error" }, String(event.reason?.message || event.reason)));
});
startFeed().then(route, () => route());
