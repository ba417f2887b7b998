// The only module that talks to the server: JSON calls, artifact bytes and the event stream.
// The token lives in this tab's session storage and travels only in the Authorization
// header (the stream is read with fetch, not EventSource, so it never enters a URL).

const TOKEN_KEY = "eventsvc.token";
const listeners = new Set();

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(value) { sessionStorage.setItem(TOKEN_KEY, value); }
export function onUnauthorized(callback) { listeners.add(callback); }

function headers(extra = {}) {
  const given = token();
  return given ? { ...extra, Authorization: `Bearer ${given}` } : extra;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? `${status} ${body.code}: ${body.message}` : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function answer(response) {
  if (response.status === 401) listeners.forEach((callback) => callback());
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, value);
  }
  const suffix = query.size ? `?${query}` : "";
  return answer(await fetch(`/api/v1${path}${suffix}`, { headers: headers() }));
}

export async function send(method, path, body) {
  const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body) init.body = JSON.stringify(body);
  return answer(await fetch(`/api/v1${path}`, init));
}

const blobs = new Map();

// An object URL of an artifact's bytes (an <img src> could not carry the token).
export async function artifactUrl(sha256) {
  if (!blobs.has(sha256)) {
    blobs.set(sha256, (async () => {
      const response = await fetch(`/api/v1/artifacts/${sha256}`, { headers: headers() });
      if (!response.ok) throw new ApiError(response.status, null);
      return URL.createObjectURL(await response.blob());
    })());
  }
  return blobs.get(sha256);
}

// The log as Server-Sent Events, resumed after a dropped connection with Last-Event-ID.
// onEvent(position, tag, data) for each event, in order; progress frames carry no position.
// With raw: true, data is the event's JSON text, left for the caller to parse if it needs
// to (a busy log sends far more events than a page shows). onState("live" | "reconnecting" |
// "reconnected", position) tells the page how it stands.
export class Feed {
  constructor({ after = 0, filters = {}, raw = false, onEvent, onState = () => {} }) {
    this.last = after;
    this.filters = filters;
    this.raw = raw;
    this.onEvent = onEvent;
    this.onState = onState;
    this.controller = null;
    this.turn = 0;  // each start and close begins a new turn; a loop of an old one stops
    this.closed = true;
    this.failures = 0;
  }

  // Starts reading, after a close too: it goes on after the last event it gave.
  start() { this.turn += 1; this.closed = false; this.loop(this.turn); return this; }

  close() { this.turn += 1; this.closed = true; this.controller?.abort(); }

  async loop(turn) {
    let dropped = false;
    while (turn === this.turn) {
      try {
        await this.read(dropped, turn);
        dropped = true;  // the server ended the stream (a restart): resume like a drop
      } catch (error) {
        if (turn !== this.turn) return;
        dropped = true;
        if (error instanceof ApiError && error.status === 401) return;
      }
      if (turn !== this.turn) return;
      this.onState("reconnecting", this.last);
      this.failures += 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** this.failures, 4000)));
    }
  }

  async read(resumed, turn) {
    this.controller?.abort();
    const controller = this.controller = new AbortController();
    const query = new URLSearchParams({ after: String(this.last) });
    for (const [key, value] of Object.entries(this.filters)) if (value) query.set(key, value);
    const response = await fetch(`/api/v1/events?${query}`, {
      headers: headers({ Accept: "text/event-stream", "Last-Event-ID": String(this.last) }),
      signal: controller.signal,
    });
    if (!response.ok) await answer(response);
    if (turn !== this.turn) return;
    this.failures = 0;
    this.onState(resumed ? "reconnected" : "live", this.last);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      // One split a chunk: a busy log sends thousands of frames in one.
      const frames = (buffer + value).split("\n\n");
      buffer = frames.pop();
      for (const text of frames) {
        if (turn !== this.turn) return;  // closed by a listener of an event of this chunk
        this.frame(text);
      }
    }
  }

  frame(text) {
    // The server writes each event as "id: N\nevent: TAG\ndata: JSON" (JSON has no raw line
    // break), read here with three searches; anything else takes the general path.
    if (text.startsWith("id: ")) {
      const tagAt = text.indexOf("\nevent: "), dataAt = text.indexOf("\ndata: ", tagAt + 1);
      if (tagAt > 0 && dataAt > tagAt && text.indexOf("\n", dataAt + 1) < 0) {
        this.deliver(Number(text.slice(4, tagAt)), text.slice(tagAt + 8, dataAt), text.slice(dataAt + 7));
        return;
      }
    }
    let id = null, tag = "message";
    const data = [];
    for (const line of text.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "id") id = Number(value);
      else if (field === "event") tag = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) this.deliver(id, tag, data.join("\n"));
  }

  deliver(id, tag, text) {
    if (id !== null) {
      if (id <= this.last) return;  // never shown twice, whatever the server resends
      this.last = id;
    }
    this.onEvent(id, tag, this.raw ? text : JSON.parse(text));
  }
}
