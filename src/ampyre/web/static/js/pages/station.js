// One station: who it is (boot information, connection), its connectors with live
// status, and tabs for its status history, transactions, message log, device reports,
// commands (operator and up) and settings (admin). Everything the station sent
// (id, vendor strings, status info, frames) is shown as text only.

import { api, seg } from "../api.js";
import { badge } from "../components/notice.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { card, tabs } from "../layout.js";
import { Context, href, setQuery } from "../router.js";
import { can } from "../session.js";
import { alertsTab } from "./alerts.js";
import { commandsTab } from "./station/commands.js";
import { configTab } from "./station/config.js";
import { chargingTab } from "./station/charging.js"; // issue 18
import { securityTab } from "./station/security.js";
import { displayTab, logsTab } from "./station/logs.js";
import { connectionBadge, connectorBadge, place, tickAgo } from "./station/parts.js";
import { settingsTab } from "./station/settings.js";
import { historyTab, messagesTab, reportsTab, transactionsTab } from "./station/tabs.js";

function when(iso) {
  return iso ? h("time", { datetime: iso, title: fmt.time(iso) }, `${fmt.time(iso)} (${fmt.ago(iso)})`) : fmt.DASH;
}

function props(station) {
  const rows = [
    ["Vendor", fmt.text(station.vendor)],
    ["Model", fmt.text(station.model)],
    ["Serial number", fmt.text(station.serial_number)],
    ["Firmware", fmt.text(station.firmware_version)],
    ["OCPP version", fmt.text(station.ocpp_version)],
    ["Registration", badge(station.registration_status)],
    ["Last seen", when(station.last_seen)],
    ["Last boot", when(station.last_boot)],
    ["Boot reason", fmt.text(station.boot_reason)],
    ["Remote address", fmt.text(station.remote_address)],
    ["Connected to node", station.connected ? fmt.text(station.connected_node) : fmt.DASH],
    ["Security", station.has_password ? "Password (profile 1)" : "No password"],
    ["Description", fmt.text(station.description)],
  ];
  for (const [label, key] of [["Meter type", "meter_type"], ["Meter serial", "meter_serial_number"], ["ICCID", "iccid"], ["IMSI", "imsi"]]) {
    if (station[key]) rows.push([label, station[key]]);
  }
  return h("dl", { class: "props" }, rows.map(([dt, dd]) => [h("dt", {}, dt), h("dd", {}, dd)]));
}

function connectorRow(evseId, c) {
  const details = [];
  if (c.error_code && c.error_code !== "NoError") details.push(c.error_code);
  if (c.vendor_error_code) details.push(`vendor code ${c.vendor_error_code}`);
  if (c.info) details.push(c.info);
  const since = c.status_timestamp || c.updated_at;
  return [
    h("span", { class: "connector-place" }, evseId === 0 ? "Station (EVSE 0)" : place(evseId, c.connector_id)),
    connectorBadge(evseId, c),
    h("span", { class: "connector-details" },
      details.length ? details.join(" · ") : null,
      since ? h("small", { class: "muted" }, details.length ? " · " : "", "since ", h("time", { class: "ago", datetime: since, title: fmt.time(since) }, fmt.ago(since))) : null),
  ];
}

export default {
  path: "/stations/:id",
  title: (params) => `Station ${params.id}`,

  async render(root, ctx) {
    const id = ctx.params.id;
    const path = `/stations/${seg(id)}`;
    let station;
    try {
      station = await api.get(path);
    } catch (err) {
      if (err.status !== 404) throw err;
      root.append(h("h1", {}, h("span", { class: "muted" }, "Station "), id),
        h("p", { role: "alert" }, "There is no such station (it may have been deleted). ",
          h("a", { href: href("/stations") }, "All stations")));
      return;
    }
    if (!ctx.alive) return;

    const conn = h("span", { class: "station-conn" });
    const info = h("div");
    const connectorList = h("ul", { class: "connector-list" });
    const rows = new Map(); // "evse:connector" -> <li>

    function drawHeader() {
      replace(conn, connectionBadge(station));
      replace(info, props(station));
    }

    function drawConnectors() {
      rows.clear();
      const items = [];
      for (const evse of station.evses || []) {
        for (const c of evse.connectors) {
          const li = h("li", {}, connectorRow(evse.evse_id, c));
          rows.set(`${evse.evse_id}:${c.connector_id}`, li);
          items.push(li);
        }
      }
      replace(connectorList, items.length ? items : h("li", { class: "muted" }, "No status reported yet."));
    }

    // A status change of this station: update its connector in place (no refetch).
    function onStatus(event) {
      if (!event || event.station_id !== id || !event.data) return;
      const d = event.data;
      let evse = (station.evses || []).find((e) => e.evse_id === d.evse_id);
      if (!evse) {
        evse = { evse_id: d.evse_id, connectors: [] };
        station.evses = [...(station.evses || []), evse].sort((a, b) => a.evse_id - b.evse_id);
      }
      let c = evse.connectors.find((x) => x.connector_id === d.connector_id);
      const fresh = !c;
      if (fresh) {
        c = { connector_id: d.connector_id };
        evse.connectors.push(c);
        evse.connectors.sort((a, b) => a.connector_id - b.connector_id);
      }
      Object.assign(c, {
        status: d.status,
        error_code: d.error_code ?? null,
        info: d.info ?? null,
        vendor_error_code: d.vendor_error_code ?? null,
        status_timestamp: d.timestamp ?? event.created_at ?? null,
        updated_at: event.created_at ?? null,
      });
      const li = rows.get(`${d.evse_id}:${d.connector_id}`);
      if (fresh || !li) drawConnectors();
      else replace(li, connectorRow(d.evse_id, c));
    }

    // Connected / disconnected: the header is refetched (boot information may be new),
    // at most once a second.
    let pending = null;
    function refetch() {
      if (pending) return;
      pending = setTimeout(async () => {
        pending = null;
        try {
          const fresh = await api.get(path);
          if (!ctx.alive) return;
          station = fresh;
          drawHeader();
          drawConnectors();
        } catch {
          // Deleted or unreachable: the next event or a reload will tell.
        }
      }, 1000);
    }
    ctx.onCleanup(() => clearTimeout(pending));
    ctx.live("station.status_changed", onStatus);
    for (const type of ["station.connected", "station.disconnected"]) {
      ctx.live(type, (event) => {
        if (event?.station_id === id) refetch();
      });
    }
    ctx.live("reset", refetch);
    ctx.every(15000, () => tickAgo(connectorList));

    drawHeader();
    drawConnectors();

    // Tabs: each one renders into a fresh panel with its own live subscriptions, dropped
    // when another tab is chosen or the page is left.
    let scope = null;
    ctx.onCleanup(() => scope?.dispose());
    const env = {
      id,
      path,
      station: () => station,
      reloadStation: async () => {
        station = await api.get(path);
        if (ctx.alive) {
          drawHeader();
          drawConnectors();
        }
        return station;
      },
    };
    const items = [
      { key: "history", label: "Status history", render: historyTab },
      { key: "transactions", label: "Transactions", render: transactionsTab },
      { key: "messages", label: "Message log", render: messagesTab },
      { key: "reports", label: "Reports", render: reportsTab },
      { key: "alerts", label: "Alerts", render: alertsTab },
      { key: "configuration", label: "Configuration", render: configTab },
      { key: "charging", label: "Charging", render: chargingTab }, // issue 18
      { key: "security", label: "Security", render: securityTab },
      { key: "logs", label: "Logs", render: logsTab },
      { key: "display", label: "Display", render: displayTab },
    ];
    if (can("operator")) items.push({ key: "commands", label: "Commands", render: commandsTab });
    if (can("admin")) items.push({ key: "settings", label: "Settings", render: settingsTab });
    const wanted = ctx.query.get("tab");
    const selected = items.some((i) => i.key === wanted) ? wanted : items[0].key;
    const tabItems = items.map((item) => ({
      key: item.key,
      label: item.label,
      render: (panel) => {
        scope?.dispose();
        scope = new Context(ctx.params, ctx.query);
        item.render(panel, { ...env, scope });
      },
    }));

    root.append(
      h("p", { class: "crumbs" }, h("a", { href: href("/stations") }, "‹ Stations")),
      h("div", { class: "page-header" },
        h("h1", {}, h("span", { class: "muted" }, "Station "), id),
        conn),
      h("div", { class: "grid" },
        card("Details", info),
        card("Connectors", connectorList)),
      h("section", { class: "card", "aria-label": "Station activity" },
        tabs(tabItems, selected, (key) => {
          if (ctx.alive) setQuery({ tab: key === items[0].key ? null : key });
        })));
  },
};
