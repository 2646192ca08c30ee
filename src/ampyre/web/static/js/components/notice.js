// Messages for the user: toasts for outcomes of actions, inline boxes for errors.

import { h } from "../dom.js";

let region = null;

function toastRegion() {
  if (!region || !region.isConnected) {
    region = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(region);
  }
  return region;
}

/** A short message that goes away by itself; kind: "ok" | "error" | "info". */
export function toast(message, kind = "info", ms = 5000) {
  const item = h("div", { class: `toast toast-${kind}` }, message);
  toastRegion().append(item);
  setTimeout(() => item.remove(), ms);
  return item;
}

/** An error as a block: the problem's detail and, for 422, the field errors. */
export function errorBox(err) {
  const errors = Array.isArray(err?.errors) ? err.errors : [];
  return h("div", { class: "error-box", role: "alert" },
    h("strong", {}, err?.title && err.title !== err.detail ? `${err.title}: ` : "Error: "),
    err?.detail || err?.message || String(err),
    errors.length ? h("ul", {}, errors.map((e) => h("li", {},
      typeof e === "string" ? e : `${(e.loc || e.name || []).toString()}: ${e.msg || e.reason || JSON.stringify(e)}`))) : null);
}

/** Run an async action, toast its outcome, return its result (or undefined on error). */
export async function attempt(action, okMessage) {
  try {
    const result = await action();
    if (okMessage) toast(typeof okMessage === "function" ? okMessage(result) : okMessage, "ok");
    return result;
  } catch (err) {
    toast(err?.detail || err?.message || String(err), "error", 8000);
    return undefined;
  }
}

/** A coloured status label ("Available", "Charging", "Faulted", ...). */
export function badge(status, extraClass = "") {
  const s = String(status ?? "unknown");
  const key = s.toLowerCase().replace(/[^a-z]+/g, "-");
  return h("span", { class: `badge badge-${key} ${extraClass}`.trim() }, s);
}
