// Station certificates across the fleet (issue 19): the certificates installed on the
// stations as far as Ampyre knows (GetInstalledCertificateIds, what it signed or
// installed), filtered by station, type and expiry, and the certificate signing
// requests (SignCertificate) with their state. Each station's own list, with the
// actions, is on its page (Security tab).

import { api, seg } from "../api.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h, replace, select } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import {
  POLL_MS, ago, expiryCell, hexCode, isMissingRoute, pageOf, reloadKeepingFocus,
  statusBadge, subjectText, subnav, throttled, unavailable,
} from "./security.js";

/** Certificate use types: 2.x GetCertificateIdUseEnumType / InstallCertificateUseEnumType
 *  and the station's own ones, 1.6 CertificateUseEnumType. */
export const CERTIFICATE_TYPES = [
  "CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate",
  "OEMRootCertificate", "V2GCertificateChain", "ChargingStationCertificate",
];
/** What InstallCertificate can install (2.0.1 InstallCertificateUseEnumType; OEM: 2.1). */
export const INSTALLABLE = CERTIFICATE_TYPES.slice(0, 5);
/** A CSR's states (RequestStatus). */
export const REQUEST_STATES = [["signing", "Signing"], ["sent", "Sent to the station"], ["installed", "Installed"],
  ["station_rejected", "Refused by the station"], ["rejected", "Rejected (bad CSR)"], ["failed", "Failed"]];

/** An installed certificate's (or a CSR's) use; its serial (hash data of a reported one). */
export const typeOf = (c) => c.use;
export const serialOf = (c) => c.serial_number ?? c.hash_data?.serial_number;

function stationLink(id) {
  return id ? h("a", { href: href(`/stations/${seg(id)}`, { tab: "security" }) }, id) : fmt.DASH;
}

function filtered(scope, { caption, path, what, empty, filters, columns, params }) {
  const notice = h("div");
  let missing = false;
  const table = pagedTable({
    caption,
    pageSize: 25,
    empty,
    filters,
    load: async ({ limit, offset }) => {
      try {
        const page = pageOf(await api.get(path, { limit, offset, ...params() }), { limit, offset });
        missing = false;
        notice.replaceChildren();
        return page;
      } catch (err) {
        if (!isMissingRoute(err)) throw err;
        missing = true;
        replace(notice, unavailable(what));
        return { items: [], total: 0 };
      }
    },
    columns,
  });
  const refresh = throttled(scope, () => {
    if (!missing) reloadKeepingFocus(table);
  });
  scope.live("alert.raised", refresh); // expiry and signing problems raise alerts
  scope.live("reset", refresh);
  scope.every(POLL_MS, refresh);
  return { el: h("div", {}, notice, table.el), table };
}

export default {
  path: "/security/certificates",
  title: "Station certificates",

  async render(root, ctx) {
    const q = ctx.query;
    const station = h("input", { type: "search", name: "station", value: q.get("station") || "", autocomplete: "off" });
    const type = select({ name: "type" }, [["", "Any type"], ...CERTIFICATE_TYPES.map((t) => [t, t])], q.get("type") || "");
    const expiring = select({ name: "expiring" }, [["", "Any expiry"], ["30", "Expiring within 30 days"], ["90", "Expiring within 90 days"]], q.get("expiring") || "");
    const csrState = select({ name: "csr" }, [["", "Any state"], ...REQUEST_STATES], q.get("csr") || "");
    const installed = filtered(ctx, {
      caption: "Installed certificates of all stations",
      path: "/certificates",
      what: "The list of installed certificates",
      empty: "No installed certificates known: open a station's Security tab and read them from the station.",
      filters: [field("Station", station), field("Type", type), field("Expiry", expiring)],
      params: () => {
        const p = { station_id: station.value.trim(), use: type.value, expiring_within_days: expiring.value || null };
        setQuery({ station: p.station_id, type: p.use, expiring: p.expiring_within_days, csr: csrState.value || null });
        return p;
      },
      columns: [
        { key: "station", label: "Station", render: (c) => stationLink(c.station_id) },
        { key: "type", label: "Type", render: (c) => fmt.text(typeOf(c)) },
        { key: "subject", label: "Subject", render: subjectText },
        { key: "serial", label: "Serial", render: (c) => hexCode(serialOf(c)) },
        { key: "expires", label: "Expires", render: (c) => expiryCell(c.not_after) },
        { key: "seen", label: "Updated", render: (c) => ago(c.updated_at) },
      ],
    });

    const requests = filtered(ctx, {
      caption: "Certificate signing requests",
      path: "/certificate-requests",
      what: "The list of certificate signing requests",
      empty: "No certificate signing requests.",
      filters: [field("State", csrState)],
      params: () => ({ status: csrState.value || null, station_id: station.value.trim() }),
      columns: [
        { key: "when", label: "Received", render: (r) => ago(r.created_at) },
        { key: "station", label: "Station", render: (r) => stationLink(r.station_id) },
        { key: "type", label: "Type", render: (r) => fmt.text(typeOf(r) ?? "both (2.x, no type given)") },
        { key: "subject", label: "Subject", render: subjectText },
        { key: "status", label: "State", render: (r) => statusBadge(r.status) },
        { key: "detail", label: "Detail", render: (r) => fmt.text(r.error) },
        { key: "updated", label: "Updated", render: (r) => ago(r.updated_at) },
      ],
    });

    const restart = debounce(() => {
      installed.table.restart();
      requests.table.restart();
    }, 300);
    station.addEventListener("input", restart);
    type.addEventListener("change", () => installed.table.restart());
    expiring.addEventListener("change", () => installed.table.restart());
    csrState.addEventListener("change", () => requests.table.restart());

    root.append(
      subnav("/security/certificates"),
      pageHeader("Station certificates"),
      h("p", { class: "muted" },
        "What the stations have installed (their own certificates and the roots they trust), and their certificate signing requests. Certificates near expiry are renewed by Ampyre and raise an alert."),
      card("Installed certificates", installed.el),
      card("Certificate signing requests", requests.el));
  },
};
