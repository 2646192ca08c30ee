// Plug & Charge (issue 19): the ISO 15118 contract certificates Ampyre issued (built-in
// contract-certificate provider, Get15118EVCertificate) or saw (Authorize with a
// contract certificate): eMAID, subject, expiry, status, where it was last used and the
// id token the eMAID maps to. Operators revoke one the built-in PKI issued (through the
// PKI's revoke: the next Authorize with it is refused).

import { api, seg } from "../api.js";
import { confirmDialog } from "../components/dialog.js";
import { badge, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h, replace, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { can } from "../session.js";
import {
  POLL_MS, ago, expiryCell, hexCode, isMissingRoute, pageOf, reloadKeepingFocus,
  statusBadge, subjectText, subnav, throttled, unavailable,
} from "./security.js";

// The certificateStatus Ampyre last answered for it (2.0.1 AuthorizeCertificateStatusEnumType).
const STATUSES = ["Accepted", "SignatureError", "CertificateExpired", "CertificateRevoked",
  "NoCertificateAvailable", "CertChainError", "ContractCancelled"];

const emaidOf = (c) => c.emaid;
const serialOf = (c) => c.serial_number;

/** Revoked in the built-in PKI (serials of the revoked contract certificates, looked up
 *  once per load), or last answered as revoked. */
function revokedOf(c, revoked) {
  return revoked.has(String(serialOf(c)).toLowerCase()) || c.last_status === "CertificateRevoked";
}

function statusCell(c, revoked) {
  const parts = [];
  if (revoked.has(String(serialOf(c)).toLowerCase())) parts.push(badge("revoked in the PKI", "badge-failed"), " ");
  if (c.not_after && new Date(c.not_after).getTime() <= Date.now()) parts.push(badge("expired", "badge-failed"), " ");
  if (c.last_status) {
    parts.push(h("span", { class: "muted" }, "last answer "), statusBadge(c.last_status),
      c.last_checked_at ? h("small", { class: "muted" }, " ", ago(c.last_checked_at)) : null);
  } else if (parts.length === 0) {
    parts.push(h("span", { class: "muted" }, "not checked yet"));
  }
  return h("span", {}, parts);
}

function originCell(c) {
  const origin = c.source;
  if (origin === "issued") return c.provider ? `issued (${c.provider === "builtin" ? "built-in provider" : `${c.provider} provider`})` : "issued";
  if (origin === "presented") return "presented at Authorize";
  return fmt.text(origin);
}

function tokenCell(c) {
  const value = emaidOf(c);
  return value ? h("a", { href: href("/id-tokens", { q: value }), "aria-label": `Id token ${value}` }, "id token") : fmt.DASH;
}

/** Serials of the contract certificates the built-in PKI has revoked (empty when the
 *  server has no PKI API). */
async function revokedSerials() {
  try {
    const page = await api.get("/pki/certificates", { role: "contract", revoked: true, limit: 500 });
    return new Set((page?.items || []).map((c) => String(c.serial).toLowerCase()));
  } catch {
    return new Set();
  }
}

async function revoke(c, done) {
  const serial = serialOf(c);
  const ok = await confirmDialog(`Revoke the contract certificate of ${emaidOf(c) || serial}?`,
    "The built-in OCSP responder answers revoked for it from now on: the next Authorize with it is refused. This cannot be undone.",
    { confirmLabel: "Revoke", danger: true });
  if (!ok) return;
  try {
    await api.post(`/pki/certificates/${seg(serial)}/revoke`, {});
    toast(`Contract certificate ${emaidOf(c) || serial} revoked.`, "ok");
  } catch (err) {
    toast(err?.detail || err?.message || String(err), "error", 8000);
  }
  await done();
}

export default {
  path: "/security/contract-certificates",
  title: "Plug & Charge",

  async render(root, ctx) {
    const q = h("input", { type: "search", name: "emaid", value: ctx.query.get("emaid") || "", autocomplete: "off" });
    const status = select({ name: "status" }, [["", "Any"], ...STATUSES.map((v) => [v, v])], ctx.query.get("status") || "");
    const notice = h("div");
    let missing = false;
    let revoked = new Set();
    const table = pagedTable({
      caption: "Contract certificates",
      pageSize: 25,
      empty: "No contract certificates yet: they appear when a vehicle installs one through Ampyre or authorizes with one.",
      rowKey: (c) => String(c.id),
      filters: [field("eMAID", q), field("Last answer", status)],
      load: async ({ limit, offset }) => {
        const params = { limit, offset, emaid: q.value.trim(), status: status.value || null };
        setQuery({ emaid: params.emaid, status: params.status });
        try {
          const [answer, serials] = await Promise.all([api.get("/contract-certificates", params), revokedSerials()]);
          const page = pageOf(answer, { limit, offset });
          revoked = serials;
          missing = false;
          notice.replaceChildren();
          return page;
        } catch (err) {
          if (!isMissingRoute(err)) throw err;
          missing = true;
          replace(notice, unavailable("The list of contract certificates"));
          return { items: [], total: 0 };
        }
      },
      columns: [
        { key: "emaid", label: "eMAID", render: (c) => h("code", { class: "wrap" }, fmt.text(emaidOf(c))) },
        { key: "subject", label: "Subject", render: subjectText },
        { key: "serial", label: "Serial", render: (c) => hexCode(serialOf(c)) },
        { key: "origin", label: "Origin", render: originCell },
        { key: "station", label: "Station", render: (c) => (c.station_id
          ? h("a", { href: href(`/stations/${seg(c.station_id)}`, { tab: "security" }) }, c.station_id) : fmt.DASH) },
        { key: "token", label: "Id token", render: tokenCell },
        { key: "seen", label: "Known since", render: (c) => ago(c.created_at) },
        { key: "expires", label: "Expires", render: (c) => expiryCell(c.not_after) },
        { key: "status", label: "Status", render: (c) => statusCell(c, revoked) },
        can("operator") ? {
          key: "actions", label: "Actions",
          // Only what the built-in provider issued is the built-in PKI's to revoke.
          render: (c) => (revokedOf(c, revoked) || !serialOf(c) || c.source !== "issued" || (c.provider && c.provider !== "builtin") ? fmt.DASH
            : h("div", { class: "row-actions" }, h("button", {
              type: "button", class: "small danger", "aria-label": `Revoke the contract certificate of ${emaidOf(c) || serialOf(c)}`,
              onclick: () => revoke(c, () => table.reload()),
            }, "Revoke"))),
        } : null,
      ].filter(Boolean),
    });
    const restart = debounce(() => table.restart(), 300);
    q.addEventListener("input", restart);
    status.addEventListener("change", () => table.restart());
    const refresh = throttled(ctx, () => {
      if (!missing) reloadKeepingFocus(table);
    });
    ctx.live("alert.raised", refresh);
    ctx.live("reset", refresh);
    ctx.every(POLL_MS, refresh);
    root.append(
      subnav("/security/contract-certificates"),
      pageHeader("Plug & Charge contract certificates"),
      h("p", { class: "muted" },
        "ISO 15118 contract certificates: installed into vehicles through Ampyre (Get15118EVCertificate) or presented at Authorize. Each eMAID is an id token, so ",
        h("a", { href: href("/id-tokens") }, "id tokens"), " decide whether it may charge; revoking the certificate makes the next Authorize fail its OCSP check. ",
        h("a", { href: href("/security/pki") }, "The PKI page"), " lists every certificate issued."),
      notice, table.el);
  },
};
