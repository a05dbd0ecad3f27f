// The page's one way to the server: the Tasks API's JSON, with the signed-in key, errors in
// words, and the outbox, which keeps every label the person made in this tab until the server
// has taken it (sent again while the server is gone, kept across a reload of the tab).

const SESSION = "annotask.session";
const OUTBOX = "annotask.outbox";
/// The app in `/v2/users/{user}/apps/{app}`: annotask serves one, and does not check its name.
const APP = "annotask";

export const session = {
  load() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION)) || null;
    } catch {
      return null;
    }
  },
  save(value) {
    sessionStorage.setItem(SESSION, JSON.stringify(value));
  },
  clear() {
    sessionStorage.removeItem(SESSION);
  },
};

export class ApiError extends Error {
  constructor(message, http) {
    super(message);
    this.http = http; // 0: the server did not answer
  }
  get offline() {
    return this.http === 0;
  }
}

/// The prefix of calls that act as the signed-in user.
export function userPath(rest) {
  const me = session.load();
  return `/v2/users/${encodeURIComponent(me?.user || "-")}/apps/${APP}${rest}`;
}

/// What a failed answer means for the person at the page.
function words(http, body) {
  const details = body?.status?.details || body?.status?.description || "";
  switch (http) {
    case 401:
      return `The server refused the API key (${details}). Sign in again.`;
    case 403:
      return `Not allowed: ${details}`;
    case 404:
      return `Not found: ${details}`;
    case 409:
      return `The task changed underneath: ${details}`;
    case 413:
      return `Too large: ${details}`;
    default:
      return http >= 500 ? `The server failed: ${details}` : `The server refused: ${details}`;
  }
}

export const OFFLINE = "The server does not answer (it may have stopped). Your labels are kept in this tab and sent when it answers again.";

/// Calls the API and answers its JSON; throws ApiError with words a person can act on.
export async function call(method, path, body, { key } = {}) {
  const headers = { Accept: "application/json" };
  const token = key ?? session.load()?.key;
  if (token) headers.Authorization = `Key ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(OFFLINE, 0);
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    // A body that is not JSON is said below by its HTTP status.
  }
  if (!response.ok) throw new ApiError(words(response.status, json), response.status);
  return json;
}

/// An input's local file as a `blob:` URL (fetched with the key, which an <img> cannot send),
/// or its remote URL as it is. Cached, so that the next inputs can be fetched ahead.
const media = new Map();
export function mediaUrl(input) {
  const url = input?.data?.image?.url || input?.data?.text?.url;
  if (!url) return Promise.resolve(null);
  if (/^[a-z][a-z0-9+.-]+:/i.test(url)) return Promise.resolve(url);
  if (!media.has(input.id)) {
    const loading = fetchMedia(input.id).then(async (r) => URL.createObjectURL(await r.blob())).catch((e) => {
      media.delete(input.id);
      throw e;
    });
    media.set(input.id, loading);
    // Keep the cache small: the oldest entries go (their blob URLs with them).
    if (media.size > 64) {
      const [oldest, promise] = media.entries().next().value;
      media.delete(oldest);
      promise.then((u) => URL.revokeObjectURL(u), () => {});
    }
  }
  return media.get(input.id);
}

async function fetchMedia(id) {
  const token = session.load()?.key;
  let response;
  try {
    response = await fetch(`/app/media/${encodeURIComponent(id)}`, {
      headers: token ? { Authorization: `Key ${token}` } : {},
      credentials: "omit",
    });
  } catch {
    throw new ApiError(OFFLINE, 0);
  }
  if (!response.ok) {
    let json = null;
    try {
      json = await response.json();
    } catch {}
    throw new ApiError(words(response.status, json), response.status);
  }
  return response;
}

/// The text of a text input: its `data.text.raw`, or its local `.txt` file.
export async function inputText(input) {
  const text = input?.data?.text;
  if (text?.raw !== undefined) return text.raw;
  const response = await fetchMedia(input.id);
  return response.text();
}

/// Every label the person made, in order, until the server has taken it. An entry is a list of
/// calls; each that succeeded is dropped, so a retry never repeats one. The server's answers
/// are idempotent where a retry could meet a call that did reach it (an annotation of the same
/// id replaces itself; a submitted assignment is left as it is).
class Outbox {
  constructor() {
    this.listeners = new Set();
    this.running = false;
    this.retryIn = 500;
    this.failed = null; // {entry, message}: refused by the server, kept until dismissed
    this.offline = false;
  }
  storeKey() {
    return `${OUTBOX}.${session.load()?.user || "-"}`;
  }
  entries() {
    try {
      return JSON.parse(sessionStorage.getItem(this.storeKey())) || [];
    } catch {
      return [];
    }
  }
  save(entries) {
    sessionStorage.setItem(this.storeKey(), JSON.stringify(entries));
    this.changed();
  }
  changed() {
    for (const listener of this.listeners) listener(this);
  }
  /// `entry`: {label: what it is, in words; task, input; calls: [[method, path, body], ...]}.
  push(entry) {
    const entries = this.entries();
    entries.push({ ...entry, id: `${Date.now()}-${Math.random().toString(36).slice(2)}` });
    this.save(entries);
    this.run();
  }
  pending(task, input) {
    return this.entries().some((e) => e.task === task && e.input === input);
  }
  dismiss() {
    const entries = this.entries();
    if (this.failed) this.save(entries.filter((e) => e.id !== this.failed.entry.id));
    this.failed = null;
    this.changed();
    this.run();
  }
  retry() {
    this.failed = null;
    this.changed();
    this.run();
  }
  async run() {
    if (this.running || this.failed) return;
    this.running = true;
    try {
      for (;;) {
        const entries = this.entries();
        const entry = entries[0];
        if (!entry) break;
        const [method, path, body] = entry.calls[0];
        try {
          await call(method, path, body);
        } catch (e) {
          if (e.offline || e.http >= 500) {
            this.offline = true;
            this.changed();
            setTimeout(() => this.run(), this.retryIn);
            this.retryIn = Math.min(this.retryIn * 2, 4000);
          } else {
            this.failed = { entry, message: `${entry.label}: ${e.message}` };
            this.changed();
          }
          return;
        }
        this.offline = false;
        this.retryIn = 500;
        const now = this.entries();
        const same = now.findIndex((e) => e.id === entry.id);
        if (same >= 0) {
          now[same].calls.shift();
          if (now[same].calls.length === 0) now.splice(same, 1);
          this.save(now);
        }
      }
    } finally {
      this.running = false;
    }
  }
  /// Resolves once every entry is sent (or one is refused).
  settled() {
    return new Promise((resolve) => {
      const check = () => {
        if (this.entries().length === 0 || this.failed) {
          this.listeners.delete(check);
          resolve();
        }
      };
      this.listeners.add(check);
      check();
    });
  }
}

export const outbox = new Outbox();
