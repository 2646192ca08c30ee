// The station page's read-only tabs: status history (a timeline), transactions, the OCPP
// message log and device reports. Each is server-paged; frames and payloads are shown as
// pretty JSON text.

import { api, seg } from "../../api.js";
import { badge } from "../../components/notice.js";
import { pagedList } from "../../components/pagedlist.js";
import { pagedTable } from "../../components/table.js";
import { field, h, select } from "../../dom.js";
import * as fmt from "../../format.js";
import { href } from "../../router.js";
import { place } from "./parts.js";

/** A timer-based throttle: `fn` runs once, `ms` after the first of a burst of calls. */
function throttled(scope, fn, ms = 1000) {
  let timer = null;
  scope.onCleanup(() => clearTimeout(timer));
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      if (scope.alive) fn();
    }, ms);
  };
}

function stamp(iso, title) {
  return iso ? h("time", { datetime: iso, title: title || fmt.time(iso) }, fmt.time(iso)) : fmt.DASH;
}

// ------------------------------------------------------------------ status history

export function historyTab(panel, env) {
  const list = pagedList({
    label: "Status history",
    pageSize: 25,
    empty: "No status notifications yet.",
    load: ({ limit, offset }) => api.get(`${env.path}/status-history`, { limit, offset }),
    render: (items) => h("ol", { class: "timeline status-timeline", reversed: true },
      items.map((r) => {
        const extra = [];
        if (r.error_code && r.error_code !== "NoError") extra.push(r.error_code);
        if (r.vendor_error_code) extra.push(`vendor code ${r.vendor_error_code}`);
        if (r.info) extra.push(r.info);
        return h("li", { class: `tl-${String(r.status).toLowerCase().replace(/[^a-z]+/g, "-")}` },
          h("div", { class: "tl-head" },
            badge(r.status), " ",
            h("span", {}, r.evse_id === 0 ? "Whole station" : place(r.evse_id, r.connector_id))),
          extra.length ? h("div", { class: "tl-extra" }, extra.join(" · ")) : null,
          h("small", { class: "muted" },
            "received ", stamp(r.received_at),
            r.timestamp ? [" · station time ", stamp(r.timestamp)] : null));
      })),
  });
  // New reports arrive at the top: refresh while the first page is shown.
  const refresh = throttled(env.scope, () => {
    if (list.state.offset === 0) list.reload();
  });
  env.scope.live("station.status_changed", (event) => {
    if (event?.station_id === env.id) refresh();
  });
  panel.append(h("h2", { class: "visually-hidden" }, "Status history"), h("p", { class: "muted" }, "Newest first."), list.el);
}

// ------------------------------------------------------------------ transactions

export function transactionsTab(panel, env) {
  const table = pagedTable({
    caption: "Transactions at this station",
    pageSize: 20,
    empty: "No transactions at this station yet.",
    columns: [
      { key: "id", label: "Transaction", render: (t) => h("a", { href: href(`/transactions/${seg(t.id)}`) }, `#${t.id}`) },
      { key: "status", label: "Status", render: (t) => [badge(t.status), t.stale ? [" ", badge("stale", "badge-expired")] : null] },
      { key: "evse_id", label: "EVSE / connector", render: (t) => (t.evse_id ? `${t.evse_id} / ${t.connector_id ?? fmt.DASH}` : fmt.DASH) },
      { key: "id_token", label: "Id token", render: (t) => fmt.text(t.id_token) },
      { key: "started_at", label: "Started", render: (t) => stamp(t.started_at) },
      { key: "duration", label: "Duration", render: (t) => fmt.duration(t.started_at, t.ended_at) },
      { key: "energy_wh", label: "Energy", class: "num", render: (t) => fmt.kwh(t.energy_wh) },
      { key: "stop_reason", label: "Stop reason", render: (t) => fmt.text(t.stop_reason) },
    ],
    rowKey: (t) => t.id,
    load: ({ limit, offset }) => api.get("/transactions", { station_id: env.id, limit, offset }),
  });
  const refresh = throttled(env.scope, () => table.reload());
  for (const type of ["transaction.started", "transaction.updated", "transaction.ended"]) {
    env.scope.live(type, (event) => {
      if (event?.station_id === env.id) refresh();
    });
  }
  panel.append(h("h2", { class: "visually-hidden" }, "Transactions"), table.el);
}

// ------------------------------------------------------------------ message log

const MESSAGE_TYPES = { 2: "CALL", 3: "CALLRESULT", 4: "CALLERROR", 5: "CALLRESULTERROR", 6: "SEND" };

/** A frame's JSON text pretty-printed (as it came if it is not JSON). */
export function prettyFrame(text) {
  try {
    return fmt.json(JSON.parse(text));
  } catch {
    return String(text);
  }
}

function direction(d) {
  return d === "in"
    ? h("span", { class: "dir dir-in", title: "from the station to Ampyre" }, "← in")
    : h("span", { class: "dir dir-out", title: "from Ampyre to the station" }, "→ out");
}

export function messagesTab(panel, env) {
  const action = h("input", { type: "text", name: "action", list: "msg-actions", autocomplete: "off", spellcheck: "false", placeholder: "any" });
  const known = h("datalist", { id: "msg-actions" });
  const seen = new Set();
  const dir = select({ name: "direction" }, [["", "Both"], ["in", "In (from the station)"], ["out", "Out (to the station)"]], "");
  const pageSize = select({ name: "limit" }, ["25", "50", "100", "200"], "25");
  const note = h("p", { class: "muted filter-note", "aria-live": "polite" });
  let expanded = false;
  const toggle = h("button", {
    type: "button", "aria-pressed": "false",
    onclick: () => {
      expanded = !expanded;
      toggle.setAttribute("aria-pressed", String(expanded));
      for (const d of panel.querySelectorAll("details.frame")) d.open = expanded;
    },
  }, "Expand all");
  const apply = h("button", { type: "submit" }, "Filter");
  const filters = h("form", {
    class: "inline-form",
    onsubmit: (e) => {
      e.preventDefault();
      list.restart();
    },
  }, field("Action", action), known, field("Direction", dir), field("Frames per page", pageSize), apply, toggle);

  const wanted = () => ({ action: action.value.trim(), direction: dir.value });
  const render = (items) => h("ol", { class: "frames" }, items.map((m) => {
    const pretty = prettyFrame(m.payload);
    return h("li", {},
      h("details", { class: "frame", open: expanded },
        h("summary", {},
          h("span", { class: "frame-head" },
            stamp(m.created_at), " ", direction(m.direction), " ",
            h("strong", {}, MESSAGE_TYPES[m.message_type] || String(m.message_type)), " ",
            m.action ? h("span", { class: "frame-action" }, m.action) : null, " ",
            h("code", { class: "muted", title: "message id" }, m.unique_id)),
          h("code", { class: "frame-short" }, String(m.payload).slice(0, 300))),
        h("pre", { tabindex: "0", "aria-label": `${m.action || "frame"} ${m.unique_id}` }, pretty)));
  }));
  const list = pagedList({
    label: "Message log",
    pageSize: 25,
    toolbar: h("div", {}, filters, note),
    empty: "No messages logged (or none that match on this page).",
    render,
    load: async ({ limit, offset }) => {
      const f = wanted();
      // The server filters and pages the matches; the check here only guards against a
      // server without the filters (then the note says that the page was narrowed).
      const page = await api.get("/messages", { station_id: env.id, limit, offset, action: f.action, direction: f.direction });
      const all = page.items || [];
      for (const m of all) {
        if (m.action && !seen.has(m.action)) {
          seen.add(m.action);
          known.append(h("option", { value: m.action }));
        }
      }
      const items = all.filter((m) => (!f.direction || m.direction === f.direction)
        && (!f.action || m.action === f.action));
      note.textContent = items.length !== all.length
        ? `Filtered: ${items.length} of the ${all.length} frames on this page match.`
        : "";
      return { ...page, items, shown: all.length };
    },
  });
  dir.addEventListener("change", () => list.restart());
  pageSize.addEventListener("change", () => {
    list.state.limit = Number(pageSize.value);
    list.restart();
  });
  panel.append(h("h2", { class: "visually-hidden" }, "Message log"),
    h("p", { class: "muted" }, "OCPP frames in both directions, newest first, exactly as sent or received. Open a frame to see it pretty-printed."),
    list.el);
}

// ------------------------------------------------------------------ reports

export function reportsTab(panel, env) {
  const list = pagedList({
    label: "Device reports",
    pageSize: 10,
    empty: "No device reports (NotifyReport, NotifyEvent, …) received.",
    load: ({ limit, offset }) => api.get(`${env.path}/reports`, { limit, offset }),
    render: (items) => h("ul", { class: "reports" }, items.map((r) => h("li", { class: "report" },
      h("h3", {}, r.action, " ", h("small", { class: "muted" }, stamp(r.received_at))),
      (r.request_id !== null && r.request_id !== undefined) || (r.seq_no !== null && r.seq_no !== undefined)
        ? h("p", { class: "muted" },
          r.request_id !== null && r.request_id !== undefined ? `request ${r.request_id}` : null,
          r.seq_no !== null && r.seq_no !== undefined ? ` · part ${r.seq_no}` : null)
        : null,
      h("pre", { tabindex: "0", "aria-label": `${r.action} payload` }, fmt.json(r.payload))))),
  });
  panel.append(h("h2", { class: "visually-hidden" }, "Reports"), h("p", { class: "muted" }, "Newest first."), list.el);
}
