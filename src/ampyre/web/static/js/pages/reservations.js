// Reservations: newest first, filtered by station and status; reserve (ReserveNow) and
// cancel (CancelReservation) with the station's answer shown. `#/reservations?station_id=X`
// pre-fills the station filter and the station in a new reservation.

import { api, seg } from "../api.js";
import { confirmDialog, formDialog, resultDialog } from "../components/dialog.js";
import { apiEnum, isoFromLocal, localInputValue, optional } from "../components/forms.js";
import { attempt, badge, errorBox } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { can } from "../session.js";

const STATUSES = ["requested", "accepted", "rejected", "cancelled", "expired", "used", "failed"];
const ACTIVE = new Set(["requested", "accepted"]);
const TYPES = ["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"];

function props(pairs) {
  return h("dl", { class: "props" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** How the command to the station went, for the result dialog. */
function answer(r) {
  const d = r.delivery || {};
  return props([
    ["Reservation", `#${r.id} at ${r.station_id}${r.evse_id ? ` EVSE ${r.evse_id}` : ""}`],
    ["Status now", badge(r.status)],
    ["Station's answer", fmt.text(d.station_answer ?? r.station_answer)],
    ["Delivery", d.status ? badge(d.status) : fmt.DASH],
    d.detail ? ["Detail", d.detail] : null,
  ].filter(Boolean));
}

async function reserveForm(stationId) {
  const types = await apiEnum("IdTokenType", TYPES);
  const station = h("input", { value: stationId || "", required: true, maxlength: 48, autocomplete: "off", spellcheck: "false" });
  const evse = h("input", { type: "number", min: 0, step: 1, inputmode: "numeric" });
  const token = h("input", { required: true, maxlength: 255, autocomplete: "off", spellcheck: "false" });
  const type = select({}, [["", "The stored token's type"], ...types], "");
  const expires = h("input", { type: "datetime-local", required: true, value: localInputValue(new Date(Date.now() + 30 * 60000)) });
  const connector = h("input", { maxlength: 20, placeholder: "e.g. cType2" });
  const group = h("input", { maxlength: 255 });
  return formDialog("Reserve", () => [
    field("Station id", station),
    field("EVSE", evse, "OCPP 1.6: the connector id. Empty or 0: any (if the station allows it)."),
    field("Id token", token),
    field("Token type", type),
    field("Expires (your time zone)", expires, "Must be in the future."),
    field("Connector type (2.x only)", connector),
    field("Group id", group, "Empty: the stored token's group."),
  ], () => {
    const expiresAt = isoFromLocal(expires.value);
    if (expiresAt && new Date(expiresAt) <= new Date()) throw new Error("The expiry must be in the future.");
    return api.post("/reservations", {
      station_id: station.value.trim(),
      evse_id: evse.value === "" ? null : Number(evse.value),
      id_token: token.value.trim(),
      id_token_type: type.value || null,
      expires_at: expiresAt,
      connector_type: optional(connector.value),
      group_id: optional(group.value),
    });
  }, { submitLabel: "Reserve" });
}

export default {
  path: "/reservations",
  title: "Reservations",
  nav: { label: "Reservations", order: 50 },

  async render(root, ctx) {
    const operator = can("operator");
    const stationFilter = h("input", { type: "search", value: ctx.query.get("station_id") || "", maxlength: 48, autocomplete: "off" });
    const statusFilter = select({}, [["", "Any status"], ...STATUSES], ctx.query.get("status") || "");
    let table = null;

    const reserve = operator ? h("button", {
      type: "button", class: "primary",
      onclick: async () => {
        const r = await reserveForm(stationFilter.value.trim());
        if (!r) return;
        resultDialog(r.status === "accepted" ? "Reserved" : "Not reserved", answer(r));
        table.reload();
      },
    }, "Reserve") : null;

    async function cancel(r) {
      const ok = await confirmDialog(`Cancel reservation #${r.id}?`,
        `Station ${r.station_id} is asked to cancel it (CancelReservation).`,
        { confirmLabel: "Cancel reservation", danger: true });
      if (!ok) return;
      try {
        const out = await api.del(`/reservations/${seg(r.id)}`);
        resultDialog(out.status === "cancelled" ? "Cancelled" : "Not cancelled", answer(out));
      } catch (err) {
        resultDialog("Not cancelled", errorBox(err));
      }
      table.reload();
    }

    const columns = [
      { key: "id", label: "#", class: "num nowrap" },
      { key: "station_id", label: "Station", render: (r) => h("a", { href: href(`/stations/${seg(r.station_id)}`) }, r.station_id) },
      { key: "evse_id", label: "EVSE", render: (r) => (r.evse_id ? String(r.evse_id) : "any") },
      { key: "id_token", label: "Id token", render: (r) => h("a", { href: href("/id-tokens", { q: r.id_token }) }, r.id_token) },
      { key: "expires_at", label: "Expires", render: (r) => fmt.time(r.expires_at) },
      { key: "status", label: "Status", render: (r) => badge(r.status) },
      { key: "station_answer", label: "Station's answer", render: (r) => fmt.text(r.station_answer) },
      { key: "transaction_id", label: "Transaction", render: (r) => (r.transaction_id ? h("a", { href: href(`/transactions/${seg(r.transaction_id)}`) }, `#${r.transaction_id}`) : fmt.DASH) },
      { key: "created_at", label: "Created", render: (r) => fmt.time(r.created_at) },
    ];
    if (operator) {
      columns.push({ key: "actions", label: "Actions", render: (r) => (ACTIVE.has(r.status)
        ? h("button", { type: "button", class: "small", onclick: () => cancel(r) }, "Cancel")
        : null) });
    }

    table = pagedTable({
      columns,
      caption: "Reservations",
      pageSize: 25,
      empty: "No reservations.",
      filters: [field("Station id", stationFilter), field("Status", statusFilter)],
      load: ({ limit, offset }) => api.get("/reservations", {
        limit, offset, station_id: stationFilter.value.trim(), status: statusFilter.value,
      }),
      onState: () => setQuery({ station_id: stationFilter.value.trim(), status: statusFilter.value }),
    });
    stationFilter.addEventListener("input", debounce(() => table.restart(), 300));
    statusFilter.addEventListener("change", () => table.restart());
    root.append(pageHeader("Reservations", reserve), table.el);
  },
};
