// Transactions: a server-paged list, newest first, filtered by station, id token, state
// and start date. The filters live in the hash query (the overview links to
// ?status=active), and the CSV export link carries the same filters. Transaction events
// refresh the visible page, at most once a second.

import { api, seg } from "../api.js";
import { badge } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { h, field, select, debounce } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";

// "stale": active, but its station will not end it (offline or silent); an operator may
// close those (see the transaction page).
const STATES = [["", "All"], ["active", "Active"], ["stale", "Active, stale"], ["ended", "Ended"]];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** "2026-11-30" as the start of that day in the browser's zone, as an ISO instant. */
export function dayStart(date, plusDays = 0) {
  if (!DATE.test(date || "")) return null;
  const [y, m, d] = date.split("-").map(Number);
  const at = new Date(y, m - 1, d + plusDays);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** The API's filter parameters for the filters in the hash query. `to` is inclusive. */
export function apiFilters(f) {
  return {
    station_id: f.station_id || null,
    id_token: f.id_token || null,
    status: f.status === "active" || f.status === "ended" ? f.status : f.status === "stale" ? "active" : null,
    stale: f.status === "stale" ? true : null,
    started_from: dayStart(f.from),
    started_to: dayStart(f.to, 1),
  };
}

export function stateBadges(tx) {
  // One element: a phone's table cell is a grid of label and value.
  return h("span", { class: "badges" }, badge(tx.status),
    tx.stale ? [" ", badge("stale", "badge-expired")] : null,
    tx.closed_by ? [" ", badge("closed by operator", "badge-finishing")] : null);
}

export function evseLabel(tx) {
  if (tx.evse_id === null || tx.evse_id === undefined) return fmt.DASH;
  return tx.connector_id !== null && tx.connector_id !== undefined && tx.connector_id !== tx.evse_id
    ? `${tx.evse_id} / ${tx.connector_id}` : String(tx.evse_id);
}

export function tokenLink(token) {
  return token ? h("a", { href: href("/id-tokens", { q: token }) }, token) : fmt.DASH;
}

function endedCell(tx) {
  if (tx.status === "active") {
    return h("span", {}, "running ", fmt.duration(tx.started_at, null));
  }
  return h("span", {}, fmt.time(tx.ended_at),
    tx.started_at && tx.ended_at ? h("small", { class: "muted" }, ` (${fmt.duration(tx.started_at, tx.ended_at)})`) : null);
}

export default {
  path: "/transactions",
  title: "Transactions",
  nav: { label: "Transactions", order: 30 },

  async render(root, ctx) {
    const q = ctx.query;
    const filters = {
      station_id: q.get("station_id") || "",
      id_token: q.get("id_token") || "",
      status: q.get("status") || "",
      from: DATE.test(q.get("from") || "") ? q.get("from") : "",
      to: DATE.test(q.get("to") || "") ? q.get("to") : "",
    };
    const offset = Math.max(0, Number.parseInt(q.get("offset") || "0", 10) || 0);

    const exportLink = h("a", { class: "button", download: "transactions.csv" }, "Export CSV");
    function syncQuery(state) {
      setQuery({ ...filters, offset: state?.offset || null });
      exportLink.href = api.url("/transactions/export.csv", apiFilters(filters));
    }

    const station = h("input", { type: "search", value: filters.station_id, autocomplete: "off", spellcheck: "false" });
    const token = h("input", { type: "search", value: filters.id_token, autocomplete: "off", spellcheck: "false" });
    const status = select({}, STATES, filters.status);
    const from = h("input", { type: "date", value: filters.from });
    const to = h("input", { type: "date", value: filters.to });
    const apply = () => {
      filters.station_id = station.value.trim();
      filters.id_token = token.value.trim();
      filters.status = status.value;
      filters.from = from.value;
      filters.to = to.value;
      table.restart();
    };
    const typed = debounce(apply, 350);
    station.addEventListener("input", typed);
    token.addEventListener("input", typed);
    for (const control of [status, from, to]) control.addEventListener("change", apply);
    const clear = h("button", {
      type: "button",
      onclick: () => {
        station.value = token.value = from.value = to.value = "";
        status.value = "";
        apply();
      },
    }, "Clear filters");
    const filterBar = [
      field("Station id", station),
      field("Id token", token),
      field("State", status),
      field("Started from", from),
      field("Started to", to),
      h("div", { class: "field" }, clear),
    ];

    const table = pagedTable({
      caption: "Transactions, newest first",
      pageSize: 25,
      offset,
      filters: filterBar,
      empty: "No transactions match.",
      rowKey: (tx) => String(tx.id),
      onState: syncQuery,
      load: ({ limit, offset: off }) => api.get("/transactions", { ...apiFilters(filters), limit, offset: off }),
      columns: [
        { key: "id", label: "Id", class: "nowrap", render: (tx) => h("a", { href: href(`/transactions/${seg(tx.id)}`) }, `#${tx.id}`) },
        { key: "station_id", label: "Station", render: (tx) => h("a", { href: href(`/stations/${seg(tx.station_id)}`) }, tx.station_id) },
        { key: "evse", label: "EVSE / connector", render: evseLabel },
        { key: "id_token", label: "Id token", render: (tx) => tokenLink(tx.id_token) },
        { key: "status", label: "State", render: stateBadges },
        { key: "started_at", label: "Started", render: (tx) => fmt.time(tx.started_at) },
        { key: "ended_at", label: "Ended", render: endedCell },
        { key: "energy_wh", label: "Energy", class: "num nowrap", render: (tx) => fmt.kwh(tx.energy_wh) },
        { key: "stop_reason", label: "Stop reason", render: (tx) => fmt.text(tx.stop_reason) },
      ],
    });

    table.el.classList.add("tx-list");
    root.append(pageHeader("Transactions", exportLink), table.el);

    // Live: refetch the shown page, at most once a second. A started transaction may
    // belong on it (newest first); an update or end only matters for a row shown.
    let timer = null;
    let last = 0;
    const refresh = () => {
      if (timer) return;
      const wait = Math.max(0, 1000 - (Date.now() - last));
      timer = setTimeout(async () => {
        timer = null;
        last = Date.now();
        await reloadKeepingFocus();
      }, wait);
    };
    ctx.onCleanup(() => clearTimeout(timer));
    const shown = (msg) => {
      const id = msg?.data?.id;
      return id !== undefined && table.el.querySelector(`tr[data-key="${CSS.escape(String(id))}"]`) !== null;
    };
    ctx.live("transaction.started", refresh);
    ctx.live("transaction.updated", (msg) => { if (shown(msg)) refresh(); });
    ctx.live("transaction.ended", (msg) => { if (shown(msg)) refresh(); });
    ctx.live("reset", refresh);

    // A refresh rebuilds the rows; put the keyboard focus back where it was.
    async function reloadKeepingFocus() {
      const active = document.activeElement;
      const row = active?.closest?.("tbody tr[data-key]");
      const where = row && table.el.contains(row)
        ? { key: row.dataset.key, cell: [...row.children].findIndex((td) => td.contains(active)) } : null;
      await table.reload();
      if (!where || !ctx.alive) return;
      const again = table.el.querySelector(`tr[data-key="${CSS.escape(where.key)}"]`);
      again?.children[where.cell]?.querySelector("a, button")?.focus({ preventScroll: true });
    }
  },
};
