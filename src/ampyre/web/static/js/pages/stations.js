// Stations: a searchable, sortable, server-paged list. The server searches, filters by
// state, sorts and pages (20,000 stations never reach the browser); the query (q, sort,
// state, offset) lives in the hash so that the overview's tiles can link to a filtered
// list and a reload keeps the view. Station events refresh the visible page, at most
// once a second however many arrive.

import { api, seg } from "../api.js";
import { formDialog } from "../components/dialog.js";
import { badge, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { go, href, setQuery } from "../router.js";
import { can } from "../session.js";
import { connectionBadge, connectorBadges, REGISTRATION, tickAgo } from "./station/parts.js";

const STATES = [["", "All"], ["online", "Online"], ["offline", "Offline"], ["faulted", "Faulted"], ["charging", "Charging"]];
const PAGE_SIZE = 25;
const STATION_EVENTS = ["station.connected", "station.disconnected", "station.status_changed"];

function lastSeen(iso) {
  return h("time", { class: "ago", datetime: iso || null, title: iso ? fmt.time(iso) : null }, fmt.ago(iso));
}

function vendorModel(s) {
  if (!s.vendor && !s.model) return fmt.DASH;
  return [s.vendor, s.model].filter(Boolean).join(" ");
}

async function addStation() {
  const created = await formDialog("Add station", () => [
    field("Station id", h("input", { name: "id", required: true, maxlength: 48, autocomplete: "off", spellcheck: "false" }),
      "The charge point identity: A–Z a–z 0–9 * - _ = + | @ . (no colon)"),
    field("Password (optional)", h("input", { name: "password", type: "text", autocomplete: "off", minlength: 16, maxlength: 40, spellcheck: "false" }),
      "16–40 printable characters: the station must send it with HTTP Basic (security profile 1). Empty: no password."),
    field("Registration status", select({ name: "registration_status" }, REGISTRATION, "Accepted")),
    field("Description (optional)", h("textarea", { name: "description", maxlength: 500, rows: 3 })),
  ], async (form) => {
    const body = {
      id: form.elements.id.value.trim(),
      registration_status: form.elements.registration_status.value,
    };
    if (form.elements.password.value) body.password = form.elements.password.value;
    if (form.elements.description.value.trim()) body.description = form.elements.description.value.trim();
    return api.post("/stations", body);
  }, { submitLabel: "Add station" });
  if (created) {
    toast(`Station ${created.id} added.`, "ok");
    go(`/stations/${seg(created.id)}`);
  }
}

export default {
  path: "/stations",
  title: "Stations",
  nav: { label: "Stations", order: 20 },

  async render(root, ctx) {
    let state = ctx.query.get("state") || "";
    if (!STATES.some(([v]) => v === state)) state = "";
    const stateSelect = select({
      name: "state",
      onchange: () => {
        state = stateSelect.value;
        options.empty = emptyText();
        table.restart();
      },
    }, STATES, state);

    const columns = [
      {
        key: "id", label: "Station", sortable: true,
        render: (s) => h("a", { href: href(`/stations/${seg(s.id)}`) }, s.id),
      },
      { key: "vendor", label: "Vendor / model", sortable: true, render: vendorModel },
      { key: "firmware_version", label: "Firmware", sortable: true, render: (s) => fmt.text(s.firmware_version) },
      { key: "ocpp_version", label: "OCPP", sortable: true, render: (s) => fmt.text(s.ocpp_version) },
      { key: "connected", label: "Connection", sortable: true, render: connectionBadge },
      { key: "registration_status", label: "Registration", render: (s) => badge(s.registration_status) },
      { key: "last_seen", label: "Last seen", sortable: true, render: (s) => lastSeen(s.last_seen) },
      { key: "connectors", label: "Connectors", render: connectorBadges },
    ];

    let visible = new Set(); // ids on the page shown now
    const offset = Math.max(0, Number.parseInt(ctx.query.get("offset") || "0", 10) || 0);
    const emptyText = () => (state ? "No station is in this state." : "No stations yet.");
    const options = {
      columns,
      caption: "Stations",
      search: "Search id, vendor, model, serial, firmware",
      q: ctx.query.get("q") || "",
      sort: ctx.query.get("sort") || "id",
      offset,
      pageSize: PAGE_SIZE,
      filters: h("div", { class: "field" }, h("label", { for: "stations-state" }, "State"), Object.assign(stateSelect, { id: "stations-state" })),
      empty: emptyText(),
      rowKey: (s) => s.id,
      onState: ({ sort, q, offset: off }) => {
        if (!ctx.alive) return;
        setQuery({ q, sort: sort === "id" ? null : sort, state, offset: off || null });
      },
      load: async ({ limit, offset: off, sort, q }) => {
        const page = await api.get("/stations", { limit, offset: off, sort, q, state });
        visible = new Set((page.items || []).map((s) => s.id));
        return page;
      },
    };
    const table = pagedTable(options);

    // Live: refresh the visible page when one of its stations changes, or when the set of
    // stations in a state may have changed; keep keyboard focus on the same row's link.
    let pending = null;
    async function refresh() {
      pending = null;
      if (!ctx.alive) return;
      const focused = document.activeElement;
      const row = focused && table.el.contains(focused) ? focused.closest("tr")?.dataset.key : null;
      await table.reload();
      if (row !== null && row !== undefined && ctx.alive) {
        for (const tr of table.el.querySelectorAll("tbody tr")) {
          if (tr.dataset.key === row) tr.querySelector("a")?.focus({ preventScroll: true });
        }
      }
    }
    const onEvent = (event, type) => {
      if (pending) return;
      const mine = event && visible.has(event.station_id);
      const membership = state !== "" || type !== "station.status_changed" || table.state.sort !== "id";
      if (!mine && !membership) return;
      pending = setTimeout(refresh, 1000);
    };
    ctx.onCleanup(() => clearTimeout(pending));
    ctx.every(15000, () => tickAgo(table.el));
    for (const type of STATION_EVENTS) ctx.live(type, onEvent);
    // "charging" also counts stations with an active transaction.
    for (const type of ["transaction.started", "transaction.ended"]) {
      ctx.live(type, (event) => {
        if (state === "charging") onEvent(event, type);
      });
    }
    ctx.live("reset", () => {
      if (!pending) pending = setTimeout(refresh, 1000);
    });

    const add = can("admin") ? h("button", { type: "button", class: "primary", onclick: addStation }, "Add station") : null;
    root.append(pageHeader("Stations", add), table.el);
  },
};
