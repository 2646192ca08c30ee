// The station page's Security tab (issue 19): the configured security profile and the
// profile of the current connection, credential changes in flight (password rotation,
// profile upgrade: tracked until the station reconnects with the new credentials) and
// their history; the certificates installed on the station with their expiry; its
// certificate signing requests; its security events. Operators rotate the password,
// upgrade the profile, read the installed certificates from the station, install,
// delete and renew certificates. Everything the station sent is shown as text.

import { api, seg } from "../../api.js";
import { failureBody, jsonBlock, runCommand } from "../../components/command.js";
import { confirmDialog, formDialog, resultDialog } from "../../components/dialog.js";
import { checkbox, secretBox } from "../../components/forms.js";
import { badge, toast } from "../../components/notice.js";
import { field, h, select } from "../../dom.js";
import * as fmt from "../../format.js";
import { href } from "../../router.js";
import { can } from "../../session.js";
import {
  POLL_MS, SECURITY_EVENTS, ago, expiryCell, failure, hexCode, itemsOf, redraw, securityEventsTable,
  simpleTable, statusBadge, subjectText, throttled,
} from "../security.js";
import { INSTALLABLE, serialOf, typeOf } from "../security-certificates.js";

const PROFILES = {
  0: "0: no authentication",
  1: "1: HTTP Basic over plain WebSocket",
  2: "2: TLS + HTTP Basic",
  3: "3: mutual TLS (client certificate)",
};

function profileText(value, none) {
  if (value === null || value === undefined) return none;
  return PROFILES[value] || String(value);
}


function changeRows(caption, items, empty) {
  return simpleTable(caption, [
    { key: "kind", label: "Change", render: (c) => {
      const target = c.target_profile;
      return target !== null && target !== undefined ? `${c.kind} to profile ${target}` : c.kind;
    } },
    { key: "status", label: "State", render: (c) => h("span", {}, statusBadge(c.status),
      c.station_status ? h("small", { class: "muted" }, ` station: ${c.station_status}`) : null) },
    { key: "by", label: "Requested by", render: (c) => fmt.text(c.requested_by) },
    { key: "when", label: "Requested", render: (c) => ago(c.requested_at) },
    { key: "answered", label: "Answered", render: (c) => ago(c.answered_at) },
    { key: "done", label: "Completed", render: (c) => ago(c.completed_at) },
    { key: "detail", label: "Detail", render: (c) => fmt.text(c.detail) },
  ], items, empty);
}

/** GET /stations/{id}/security: configured_profile, connection_profile, connected,
 *  has_password, pending_password, tls_url, pending and history (credential changes). */
function profileView(sec) {
  const configured = sec.configured_profile;
  const current = sec.connection_profile;
  const connected = sec.connected;
  const pending = sec.pending || [];
  const history = sec.history || [];
  const total = sec.history_total ?? history.length;
  const below = configured !== null && configured !== undefined && current !== null && current !== undefined && Number(current) < Number(configured);
  const hasPassword = sec.has_password;
  return [
    h("dl", { class: "props" },
      h("dt", {}, "Configured profile"),
      h("dd", { "data-field": "configured" }, profileText(configured, "not set (profile 1 when a password is set, else open)")),
      h("dt", {}, "Current connection"),
      h("dd", { "data-field": "current" }, connected === false
        ? [badge("not connected", "badge-unknown"), current !== null && current !== undefined ? h("small", { class: "muted" }, ` last: profile ${profileText(current)}`) : null]
        : [profileText(current, fmt.DASH), below ? [" ", badge("below the configured profile", "badge-failed")] : null]),
      h("dt", {}, "Password"),
      h("dd", {}, hasPassword === undefined || hasPassword === null ? fmt.DASH : hasPassword ? "set" : "none",
        sec.pending_password ? h("small", { class: "muted" }, " (a new one waits for the station to use it; the old one still works)") : null),
      sec.tls_url ? [h("dt", {}, "TLS address"), h("dd", {}, h("code", { class: "wrap" }, String(sec.tls_url)))] : null,
    ),
    h("h4", {}, "Pending credential changes"),
    changeRows("Pending credential changes", pending, "None: the station uses the credentials Ampyre expects."),
    history.length ? h("details", { class: "security-history", dataset: { key: "history" } },
      h("summary", {}, total > history.length ? `History (latest ${history.length} of ${total})` : `History (${history.length})`),
      changeRows("Credential change history", history, "No earlier changes.")) : null,
  ];
}

async function rotatePassword(env, done) {
  const generate = checkbox("Let Ampyre generate one (recommended)", true);
  const v16 = env.station().ocpp_version === "ocpp1.6";
  // 2.x BasicAuthPassword: 16..40 characters; 1.6 AuthorizationKey: 16..20 (sent hex encoded).
  const own = h("input", { name: "password", type: "password", autocomplete: "new-password", minlength: 16, maxlength: v16 ? 20 : 40, disabled: true });
  generate.input.addEventListener("change", () => {
    own.disabled = generate.input.checked;
    own.required = !generate.input.checked;
  });
  const answer = await formDialog("Rotate the station password", () => [
    h("p", {}, v16
      ? "Ampyre sends the new password with ChangeConfiguration AuthorizationKey. The old one stays valid until the station connects with the new one."
      : "Ampyre sets SecurityCtrlr.BasicAuthPassword with SetVariables. The old one stays valid until the station connects with the new one."),
    generate.el,
    field("Your password", own, `${v16 ? "16 to 20" : "16 to 40"} characters, when you choose it yourself.`),
  ], async () => {
    const body = generate.input.checked ? {} : { password: own.value };
    return api.post(`${env.path}/security/password`, body);
  }, { submitLabel: "Rotate password" });
  if (answer === null) return;
  const password = answer?.password;
  const change = answer?.change || {};
  const status = change.status ?? answer?.status;
  const dialog = h("dialog", { class: "dialog", "aria-label": "Password rotation" },
    h("form", { method: "dialog" },
      h("h2", {}, "Password rotation"),
      h("p", {}, "State: ", statusBadge(status ?? "sent"),
        change.station_status ? ` (the station answered ${change.station_status})` : null,
        change.detail ? ` ${change.detail}` : null),
      password ? secretBox("New password", password, "Shown only this once: Ampyre keeps only a hash of it. The change completes when the station connects with it.")
        : h("p", { class: "notice" }, "The station did not take the new password: the old one stays."),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Done"))));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector("button.primary").focus();
  done();
}

async function upgradeProfile(env, sec, done) {
  // No configured profile: a password means profile 1 (API: configured_profile null).
  const configured = Number(sec.configured_profile ?? (sec.has_password ? 1 : 0));
  const choices = [1, 2, 3].filter((p) => p > configured);
  const profile = select({ name: "profile", required: true }, (choices.length ? choices : [1, 2, 3]).map((p) => [String(p), PROFILES[p]]), String(choices[0] ?? 3));
  const url = h("input", { name: "csms_url", type: "url", autocomplete: "off", placeholder: "wss://…", spellcheck: "false" });
  const slot = h("input", { name: "slot", type: "number", min: 0, max: 2147483647, step: 1, autocomplete: "off" });
  const v16 = env.station().ocpp_version === "ocpp1.6";
  const answer = await formDialog("Upgrade the security profile", () => [
    h("p", {}, v16
      ? "Ampyre sets the SecurityProfile key with ChangeConfiguration; the station reconnects with the new profile. A station may not go back to a lower profile."
      : "Ampyre sends SetNetworkProfile, puts it first in NetworkConfigurationPriority and resets the station, which reconnects with the new profile."),
    field("New profile", profile),
    v16 ? null : field("CSMS URL", url, `Optional: the address for the new profile; empty: ${sec.tls_url ? sec.tls_url : "this server's TLS listener"}.`),
    v16 ? null : field("Configuration slot", slot, "Optional: the network profile slot to write."),
  ], async () => {
    const body = { profile: Number(profile.value) };
    if (!v16 && url.value.trim()) body.csms_url = url.value.trim();
    if (!v16 && slot.value !== "") body.slot = Number(slot.value);
    return api.post(`${env.path}/security/profile`, body);
  }, { submitLabel: "Upgrade profile" });
  if (answer === null) return;
  const change = answer?.change || {};
  const status = change.status ?? answer?.status ?? "sent";
  const dialog = h("dialog", { class: "dialog", "aria-label": "Profile upgrade" },
    h("form", { method: "dialog" },
      h("h2", {}, "Profile upgrade"),
      h("p", {}, "State: ", statusBadge(status),
        change.station_status ? ` (the station answered ${change.station_status})` : null,
        change.detail ? ` ${change.detail}` : null,
        " The change completes when the station reconnects with the new profile."),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Done"))));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector("button.primary").focus();
  done();
}

/** Admin: the profile the station must connect with (PATCH /stations/{id}); nothing is
 *  sent to the station. A lower profile is refused from then on (a downgrade attempt). */
async function requireProfile(env, sec, done) {
  const profile = select({ name: "security_profile" }, [["", "not set: profile 1 when a password is set, else open"],
    ...[1, 2, 3].map((p) => [String(p), PROFILES[p]])], sec.configured_profile ?? "");
  const saved = await formDialog("Set the required security profile", () => [
    h("p", {}, "The profile this station must connect with; a connection with a lower one is refused and logged as a security event. Nothing is sent to the station: to move a station to a higher profile, use Upgrade profile."),
    field("Required profile", profile),
  ], async () => api.patch(env.path, { security_profile: profile.value === "" ? null : Number(profile.value) }),
  { submitLabel: "Save" });
  if (saved === null) return;
  toast("Required security profile saved.", "ok");
  await env.reloadStation().catch(() => {});
  done();
}

function certificateTable(items, onDelete) {
  return simpleTable("Installed certificates", [
    { key: "type", label: "Type", render: (c) => fmt.text(typeOf(c)) },
    { key: "subject", label: "Subject", render: subjectText },
    { key: "serial", label: "Serial", render: (c) => hexCode(serialOf(c)) },
    { key: "issuer", label: "Issuer", render: (c) => (c.issuer ? subjectText({ subject: c.issuer }) : hexCode(c.hash_data?.issuer_name_hash, 12)) },
    { key: "expires", label: "Expires", render: (c) => expiryCell(c.not_after) },
    { key: "source", label: "Known from", render: (c) => fmt.text({ reported: "the station's list", installed: "installed by Ampyre",
      signed: "signed by Ampyre" }[c.source] ?? c.source) },
    { key: "seen", label: "Updated", render: (c) => ago(c.updated_at) },
    { key: "pem", label: "PEM", render: (c) => (c.pem ? h("details", { dataset: { key: `pem-${c.id}` } },
      h("summary", { "aria-label": `PEM of certificate ${serialOf(c)}` }, "PEM"),
      h("pre", { tabindex: "0", "aria-label": `Certificate ${serialOf(c)} (PEM)` }, c.pem)) : fmt.DASH) },
    // The station's own certificate is not deleted (a station refuses; a new one
    // replaces it: Renew).
    onDelete ? { key: "actions", label: "Actions", render: (c) => (typeOf(c) === "ChargingStationCertificate" ? fmt.DASH
      : h("div", { class: "row-actions" }, h("button", {
        type: "button", class: "small danger",
        "aria-label": `Delete certificate ${serialOf(c)} (${typeOf(c)})`,
        dataset: { focus: `delete-${c.id}` },
        onclick: () => onDelete(c),
      }, "Delete"))) } : null,
  ].filter(Boolean), items, "No installed certificates known. Read them from the station.",
  (c) => ({ dataset: { certificate: String(c.id) } }));
}

/** One CSR with the request and the signed chain (GET /certificate-requests/{id}). */
async function showRequest(r) {
  try {
    const full = await api.get(`/certificate-requests/${seg(r.id)}`);
    resultDialog(`Certificate signing request ${r.id}`, h("div", {},
      h("p", {}, "State: ", statusBadge(full.status), full.error ? ` ${full.error}` : null),
      jsonBlock({ use: full.use, subject: full.subject, serial_number: full.serial_number, not_after: full.not_after, via: full.via }, "Request"),
      h("h3", {}, "CSR"), h("pre", { tabindex: "0", "aria-label": "CSR (PEM)" }, fmt.text(full.csr)),
      full.certificate ? [h("h3", {}, "Signed chain"), h("pre", { tabindex: "0", "aria-label": "Signed chain (PEM)" }, full.certificate)] : null));
  } catch (err) {
    resultDialog("Certificate signing request", failureBody(err));
  }
}

function csrTable(items) {
  return simpleTable("Certificate signing requests", [
    { key: "when", label: "Received", render: (r) => ago(r.created_at) },
    { key: "type", label: "Type", render: (r) => fmt.text(typeOf(r) ?? "both (no type given)") },
    { key: "subject", label: "Subject", render: subjectText },
    { key: "status", label: "State", render: (r) => statusBadge(r.status) },
    { key: "expires", label: "Signed until", render: (r) => (r.not_after ? expiryCell(r.not_after) : fmt.DASH) },
    { key: "detail", label: "Detail", render: (r) => fmt.text(r.error) },
    { key: "updated", label: "Updated", render: (r) => ago(r.updated_at) },
    { key: "show", label: "Details", render: (r) => h("button", {
      type: "button", class: "small", "aria-label": `Show certificate signing request ${r.id}`,
      dataset: { focus: `csr-${r.id}` }, onclick: () => showRequest(r),
    }, "Show") },
  ], items, "No certificate signing requests from this station.");
}

export function securityTab(panel, env) {
  const scope = env.scope;
  const profileBox = h("div", { "aria-live": "polite" });
  const certBox = h("div");
  const csrBox = h("div");
  let sec = {};
  let v16 = env.station().ocpp_version === "ocpp1.6";

  async function loadProfile() {
    try {
      const answer = await api.get(`${env.path}/security`);
      if (!scope.alive) return;
      sec = answer || {};
      redraw(profileBox, profileView(sec));
    } catch (err) {
      if (scope.alive) redraw(profileBox, failure(err, "The station's security state"));
    }
  }
  async function loadCertificates() {
    try {
      const items = itemsOf(await api.get(`${env.path}/certificates`));
      if (scope.alive) redraw(certBox, certificateTable(items, can("operator") ? deleteCertificate : null));
    } catch (err) {
      if (scope.alive) redraw(certBox, failure(err, "The list of installed certificates"));
    }
  }
  async function loadRequests() {
    try {
      const items = itemsOf(await api.get(`${env.path}/certificate-requests`, { limit: 20 }));
      if (scope.alive) redraw(csrBox, csrTable(items));
    } catch (err) {
      if (scope.alive) redraw(csrBox, failure(err, "The list of certificate signing requests"));
    }
  }
  const loadAll = () => Promise.all([loadProfile(), loadCertificates(), loadRequests()]);
  const later = () => setTimeout(() => { if (scope.alive) loadAll(); }, 2000);

  async function refreshCertificates() {
    const answer = await runCommand("Read installed certificates", () => api.post(`${env.path}/certificates/refresh`));
    if (answer !== undefined) {
      await loadCertificates();
      later();
    }
  }

  async function install() {
    const type = select({ name: "use", required: true },
      INSTALLABLE.filter((t) => !(v16 && t === "OEMRootCertificate")).map((t) => [t, t]), "CSMSRootCertificate");
    const pem = h("textarea", { name: "certificate", rows: 8, required: true, spellcheck: "false", placeholder: "-----BEGIN CERTIFICATE-----" });
    const body = await formDialog("Install a certificate", () => [
      h("p", {}, "A root certificate the station should trust (InstallCertificate). PEM, one certificate."),
      field("Certificate type", type),
      field("Certificate (PEM)", pem),
    ], async () => ({ use: type.value, certificate: pem.value.trim() }), { submitLabel: "Install" });
    if (!body) return;
    await runCommand("Install certificate", () => api.post(`${env.path}/certificates`, body));
    await loadCertificates();
  }

  async function deleteCertificate(c) {
    const what = `${typeOf(c)} ${serialOf(c)}`;
    const ok = await confirmDialog(`Delete ${what}?`,
      `Ask ${env.id} to delete this certificate (DeleteCertificate). Ampyre forgets it when the station confirms.`,
      { confirmLabel: "Delete", danger: true });
    if (!ok) return;
    await runCommand("Delete certificate", () => api.del(`${env.path}/certificates/${seg(c.id)}`));
    await loadCertificates();
  }

  async function renew() {
    const type = select({ name: "use" }, [["ChargingStationCertificate", "Charging station certificate"],
      ["V2GCertificate", "V2G certificate (ISO 15118)"]], "ChargingStationCertificate");
    const body = await formDialog("Renew a certificate", () => [
      h("p", {}, v16
        ? "Ampyre asks the station for a new signing request (ExtendedTriggerMessage SignChargingStationCertificate; V2G over the Plug & Charge DataTransfer). The new certificate is signed and sent when the request arrives."
        : "Ampyre asks the station for a new signing request (TriggerMessage SignChargingStationCertificate / SignV2GCertificate). The new certificate is signed and sent when the request arrives."),
      field("Certificate", type),
    ], async () => ({ use: type.value }), { submitLabel: "Renew" });
    if (!body) return;
    const answer = await runCommand("Renew certificate", () => api.post(`${env.path}/certificates/renew`, body));
    if (answer !== undefined) later();
  }

  const operator = can("operator");
  const profileActions = operator ? h("div", { class: "actions" },
    h("button", { type: "button", onclick: () => rotatePassword(env, loadProfile) }, "Rotate password…"),
    h("button", { type: "button", onclick: () => upgradeProfile(env, sec, loadProfile) }, "Upgrade profile…"),
    can("admin") ? h("button", { type: "button", onclick: () => requireProfile(env, sec, loadProfile) }, "Set the required profile…") : null) : null;
  const certActions = operator ? h("div", { class: "actions" },
    h("button", { type: "button", onclick: refreshCertificates }, "Read from the station"),
    h("button", { type: "button", onclick: install }, "Install a certificate…"),
    h("button", { type: "button", onclick: renew }, "Renew…")) : null;
  const events = securityEventsTable(scope, { stationId: env.id });

  panel.append(
    h("h2", {}, "Security"),
    h("section", { class: "charging-part security-part", "aria-labelledby": "sec-profile" },
      h("h3", { id: "sec-profile" }, "Security profile"), profileActions, profileBox),
    h("section", { class: "charging-part security-part", "aria-labelledby": "sec-certs" },
      h("h3", { id: "sec-certs" }, "Installed certificates"),
      h("p", { class: "muted" }, "As far as Ampyre knows: what the station listed (GetInstalledCertificateIds) and what Ampyre signed or installed. ",
        h("a", { href: href("/security/certificates") }, "All stations' certificates")),
      certActions, certBox),
    h("section", { class: "charging-part security-part", "aria-labelledby": "sec-csrs" },
      h("h3", { id: "sec-csrs" }, "Certificate signing requests"), csrBox),
    h("section", { class: "charging-part security-part", "aria-labelledby": "sec-events" },
      h("h3", { id: "sec-events" }, "Security events"), events.el));

  const refresh = throttled(scope, () => {
    v16 = env.station().ocpp_version === "ocpp1.6";
    loadAll();
  });
  for (const type of SECURITY_EVENTS) {
    scope.live(type, (event) => {
      if (!event?.station_id || event.station_id === env.id) refresh();
    });
  }
  scope.live("reset", refresh);
  scope.every(POLL_MS, refresh);
  loadAll();
}
