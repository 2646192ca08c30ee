// One event stream per browser tab (GET /api/v1/stream, server-sent events). Pages
// subscribe to event types; the router drops a page's subscriptions when it leaves.
// EventSource reconnects by itself and sends Last-Event-ID; on `reset` (events missed)
// subscribers of "reset" refetch what they show.

const listeners = new Map(); // type -> Set(fn)
let source = null;
let state = "closed"; // "connecting" | "open" | "closed"
const stateListeners = new Set();

function setState(next) {
  state = next;
  for (const fn of stateListeners) fn(state);
}

function dispatch(type, event) {
  const fns = listeners.get(type);
  if (!fns || fns.size === 0) return;
  let data = null;
  try {
    data = event.data ? JSON.parse(event.data) : null;
  } catch {
    return; // not ours
  }
  for (const fn of [...fns]) {
    try {
      fn(data, type);
    } catch (err) {
      console.error("live listener failed", type, err);
    }
  }
}

function attach(type) {
  if (source) source.addEventListener(type, (event) => dispatch(type, event));
}

export function connectLive() {
  if (source) return;
  source = new EventSource("/api/v1/stream", { withCredentials: true });
  setState("connecting");
  source.onopen = () => setState("open");
  source.onerror = () => setState(source && source.readyState === EventSource.CLOSED ? "closed" : "connecting");
  for (const type of listeners.keys()) attach(type);
}

export function disconnectLive() {
  if (source) source.close();
  source = null;
  setState("closed");
}

/** Call fn(data, type) for every event of `type` ("station.status_changed", "stats", ...).
 *  Returns the unsubscribe function. */
export function onLive(type, fn) {
  if (!listeners.has(type)) {
    listeners.set(type, new Set());
    attach(type);
  }
  listeners.get(type).add(fn);
  return () => listeners.get(type)?.delete(fn);
}

export function onLiveState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}
