// The built-in PKI (issue 19): its certificate authorities (CSMS root and sub-CA, V2G
// root with the CPO sub-CAs, MO and OEM chains, OCSP signers) with subject, validity and
// fingerprint, configured or not; and every certificate it issued (station certificates,
// contract certificates, ...), filtered by role, subject and revocation. Operators
// revoke an issued certificate: the OCSP responder then answers "revoked" for it.

import { api, seg } from "../api.js";
import { formDialog } from "../components/dialog.js";
import { badge, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h, replace, select } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { can } from "../session.js";
import {
  POLL_MS, expiryCell, failure, hexCode, isMissingRoute, pageOf, redraw, reloadKeepingFocus,
  simpleTable, subjectText, subnav, throttled, unavailable,
} from "./security.js";

// The PKI's roles (adapters/pki/profiles.py Role): its CAs and what it issues.
const ROLE_LABELS = {
  "csms-root": "CSMS root", "csms-sub": "CSMS sub-CA", "csms-server": "CSMS server (TLS)",
  station: "Charging station (profile 3)",
  "v2g-root": "V2G root", "cpo-sub1": "CPO sub-CA 1", "cpo-sub2": "CPO sub-CA 2", secc: "SECC (ISO 15118 TLS)",
  "mo-root": "MO root", "mo-sub1": "MO sub-CA 1", "mo-sub2": "MO sub-CA 2", contract: "Contract (Plug & Charge)",
  "oem-root": "OEM root", "oem-sub1": "OEM sub-CA 1", "oem-sub2": "OEM sub-CA 2", "oem-provisioning": "OEM provisioning",
  "cps-sub1": "CPS sub-CA 1", "cps-sub2": "CPS sub-CA 2", "cps-leaf": "CPS signer",
};
const roleText = (role) => ROLE_LABELS[role] || fmt.text(role);
// What an operator revokes here: certificates issued to others (stations, chargers'
// ISO 15118 certificates, vehicles). The hierarchy's own certificates are the CLI's
// (`ampyre pki revoke`): revoking a CA from a list row would be too easy a mistake.
const REVOCABLE = new Set(["station", "secc", "contract", "oem-provisioning"]);

/** Whether Ampyre holds the CA's key (false: only its certificate, an external CA). */
function keyCell(ca) {
  return ca.has_key === false ? badge("certificate only", "badge-pending") : badge("with key", "badge-ok");
}

/** GET /pki: {configured, directory, signer, ocsp_url, roots, entries (roots first)}. */
function authoritiesView(answer) {
  const list = answer.entries || [];
  return [
    !answer.configured || list.length === 0
      ? h("p", { class: "notice", role: "status" }, "No PKI is set up on this server. Run ", h("code", {}, "ampyre pki init"),
        " (or point the settings at external CA files) to create the CSMS, V2G, MO and OEM chains.")
      : null,
    h("dl", { class: "props" },
      answer.directory ? [h("dt", {}, "Directory"), h("dd", {}, h("code", { class: "wrap" }, String(answer.directory)))] : null,
      answer.signer ? [h("dt", {}, "Signs stations' CSRs"), h("dd", {}, answer.signer === "est" ? "an external CA (EST)" : "the built-in PKI")] : null,
      answer.ocsp_url ? [h("dt", {}, "OCSP responder"), h("dd", {}, h("code", { class: "wrap" }, String(answer.ocsp_url)))] : null),
    list.length ? simpleTable("Certificate authorities", [
      { key: "name", label: "Role", render: (ca) => h("span", {}, roleText(ca.name),
        ROLE_LABELS[ca.name] ? h("small", { class: "muted" }, " ", h("code", {}, ca.name)) : null) },
      { key: "subject", label: "Subject", render: subjectText },
      { key: "issuer", label: "Issued by", render: (ca) => (ca.parent ? roleText(ca.parent) : "itself (root)") },
      { key: "valid_from", label: "Valid from", render: (ca) => fmt.time(ca.not_before) },
      { key: "expires", label: "Expires", render: (ca) => expiryCell(ca.not_after, 90) },
      { key: "fingerprint", label: "SHA-256 fingerprint", render: (ca) => hexCode(ca.fingerprint_sha256, 23) },
      { key: "key", label: "Key", render: keyCell },
    ], list, "No certificate authorities.", (ca) => ({ dataset: { ca: ca.name } })) : null,
  ];
}

async function revoke(cert, done) {
  const serial = String(cert.serial);
  const reasons = [["", "unspecified"], ["keyCompromise", "key compromise"], ["cACompromise", "CA compromise"],
    ["affiliationChanged", "affiliation changed"], ["superseded", "superseded"], ["cessationOfOperation", "cessation of operation"],
    ["privilegeWithdrawn", "privilege withdrawn"]];
  const answer = await formDialog(`Revoke certificate ${serial}?`, () => [
    h("p", {}, "From now on the OCSP responder answers ", h("strong", {}, "revoked"), " for ",
      h("code", { class: "wrap" }, fmt.text(cert.subject)), ". This cannot be undone."),
    field("Reason", select({ name: "reason" }, reasons, "")),
  ], async (form) => {
    const reason = form.elements.reason.value;
    return api.post(`/pki/certificates/${seg(serial)}/revoke`, reason ? { reason } : {});
  }, { submitLabel: "Revoke", danger: true });
  if (answer === null) return;
  toast(`Certificate ${serial} revoked.`, "ok");
  await done();
}

function revokedCell(cert) {
  const at = cert.revoked_at;
  if (cert.revoked || at) {
    return h("span", {}, badge("revoked", "badge-failed"), at ? h("small", { class: "muted" }, " ", fmt.time(at)) : null,
      cert.revocation_reason ? h("small", { class: "muted" }, ` (${cert.revocation_reason})`) : null,
      cert.revoked_by ? h("small", { class: "muted" }, ` by ${cert.revoked_by}`) : null);
  }
  return badge("valid", "badge-ok");
}

function issuedTable(scope, query) {
  const role = select({ name: "role" }, [["", "Any role"], ...Object.entries(ROLE_LABELS).map(([k, v]) => [k, v])], query.get("role") || "");
  const subject = h("input", { type: "search", name: "subject", value: query.get("subject") || "", autocomplete: "off" });
  const revoked = select({ name: "revoked" }, [["", "All"], ["false", "Not revoked"], ["true", "Revoked"]], query.get("revoked") || "");
  const notice = h("div");
  let missing = false;
  const isRevoked = (c) => Boolean(c.revoked || c.revoked_at);
  const table = pagedTable({
    caption: "Issued certificates",
    pageSize: 25,
    empty: "The PKI has issued no certificates yet.",
    rowKey: (c) => String(c.serial),
    filters: [field("Role", role), field("Subject", subject), field("Revoked", revoked)],
    load: async ({ limit, offset }) => {
      const params = { limit, offset, role: role.value, subject: subject.value.trim(), revoked: revoked.value || null };
      setQuery({ role: params.role, subject: params.subject, revoked: params.revoked });
      try {
        const page = pageOf(await api.get("/pki/certificates", params), { limit, offset });
        missing = false;
        notice.replaceChildren();
        return page;
      } catch (err) {
        if (!isMissingRoute(err)) throw err;
        missing = true;
        replace(notice, unavailable("The list of issued certificates"));
        return { items: [], total: 0 };
      }
    },
    columns: [
      { key: "serial", label: "Serial", render: (c) => hexCode(c.serial) },
      { key: "subject", label: "Subject", render: subjectText },
      { key: "role", label: "Role", render: (c) => roleText(c.role) },
      { key: "issuer", label: "Issued by", render: (c) => (c.issuer === "external" ? "an external CA (EST)" : roleText(c.issuer)) },
      { key: "station", label: "Station", render: (c) => (c.station_id
        ? h("a", { href: href(`/stations/${seg(c.station_id)}`, { tab: "security" }) }, c.station_id) : fmt.DASH) },
      { key: "issued", label: "Issued", render: (c) => fmt.time(c.issued_at) },
      { key: "expires", label: "Expires", render: (c) => expiryCell(c.not_after) },
      { key: "state", label: "State", render: revokedCell },
      can("operator") ? {
        key: "actions", label: "Actions",
        render: (c) => (isRevoked(c) || !REVOCABLE.has(c.role) ? fmt.DASH : h("div", { class: "row-actions" }, h("button", {
          type: "button", class: "small danger",
          "aria-label": `Revoke certificate ${c.serial}`,
          onclick: () => revoke(c, () => table.reload()),
        }, "Revoke"))),
      } : null,
    ].filter(Boolean),
  });
  const restart = debounce(() => table.restart(), 300);
  role.addEventListener("change", () => table.restart());
  subject.addEventListener("input", restart);
  revoked.addEventListener("change", () => table.restart());
  const refresh = throttled(scope, () => {
    if (!missing) reloadKeepingFocus(table);
  });
  scope.every(POLL_MS * 2, refresh);
  scope.live("reset", refresh);
  return h("div", {}, notice, table.el);
}

export default {
  path: "/security/pki",
  title: "PKI",

  async render(root, ctx) {
    const cas = h("div");
    root.append(
      subnav("/security/pki"),
      pageHeader("PKI"),
      h("p", { class: "muted" },
        "The certificate authorities Ampyre signs with (station certificates, the TLS server certificate, Plug & Charge contract certificates) and what they issued. ",
        "Revoking a certificate makes the built-in OCSP responder answer revoked for it; a revoked station certificate no longer connects with profile 3, a revoked contract certificate no longer authorizes."),
      card("Certificate authorities", cas),
      card("Issued certificates", issuedTable(ctx, ctx.query)));
    try {
      const answer = await api.get("/pki");
      if (ctx.alive) redraw(cas, authoritiesView(answer));
    } catch (err) {
      if (ctx.alive) redraw(cas, failure(err, "The PKI overview"));
    }
  },
};
