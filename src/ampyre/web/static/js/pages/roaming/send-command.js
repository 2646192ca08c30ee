// "Send command…" (OCPI 2.2.1 mod_commands as eMSP): an operator asks a CPO partner to
// start or stop a session, reserve, cancel a reservation or unlock a connector for one of
// our id tokens (POST /ocpi/partners/{id}/commands). The form shows the fields the chosen
// command takes (the API's CommandIn; the required ones as the route's _NEEDS says), the
// request optionally waits for the Charge Point's result, and the answer (the CPO's
// response and the result) or the API's problem is shown.

import { api, seg } from "../../api.js";
import { formDialog, resultDialog } from "../../components/dialog.js";
import { isoFromLocal, optional } from "../../components/forms.js";
import { badge, toast } from "../../components/notice.js";
import { field, h, replace, select } from "../../dom.js";
import * as fmt from "../../format.js";
import { href } from "../../router.js";
import { partnersWithRole, statusHint } from "../roaming-tokens.js";

export const COMMANDS = ["START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR"];

// Per command: [field, required] in the order of the form (CommandIn / _NEEDS).
const FIELDS = {
  START_SESSION: [["id_token", true], ["location_id", true], ["evse_uid", false], ["connector_id", false], ["authorization_reference", false]],
  RESERVE_NOW: [["id_token", true], ["location_id", true], ["expiry_date", true], ["evse_uid", false], ["reservation_id", false], ["authorization_reference", false]],
  STOP_SESSION: [["session_id", true]],
  CANCEL_RESERVATION: [["reservation_id", true]],
  UNLOCK_CONNECTOR: [["location_id", true], ["evse_uid", true], ["connector_id", true]],
};

const LABELS = {
  id_token: ["Our id token", "One of our id tokens, as published to CPOs."],
  location_id: ["Location id", "The CPO's OCPI location id."],
  evse_uid: ["EVSE uid", "The EVSE's uid in that location."],
  connector_id: ["Connector id", null],
  authorization_reference: ["Authorization reference", "Optional: a reference the CPO puts in the session and CDR."],
  session_id: ["Session id", "The CPO's OCPI session id."],
  reservation_id: ["Reservation id", "Cancel: the reservation's id. Reserve: optional, made up when left out."],
  expiry_date: ["Reservation ends (your time zone)", null],
};

const TONES = {
  ACCEPTED: "badge-ok", CANCELED_RESERVATION: "badge-ok", REJECTED: "badge-failed", FAILED: "badge-failed",
  TIMEOUT: "badge-failed", UNKNOWN_SESSION: "badge-failed", UNKNOWN_RESERVATION: "badge-failed",
  EVSE_OCCUPIED: "badge-expired", EVSE_INOPERATIVE: "badge-expired", NOT_SUPPORTED: "badge-unknown",
};

/** A CommandResponse / CommandResult value in a tone that says how it went. */
export function commandBadge(value, none = null) {
  if (value === null || value === undefined || value === "") return none ? h("span", { class: "muted" }, none) : fmt.DASH;
  const s = String(value);
  return badge(s, TONES[s.toUpperCase()] || "badge-unknown");
}

/** The answer of a sent command: the CPO's response, the Charge Point's result. */
export function answerView(c, waited) {
  const pending = c.response === "ACCEPTED" && !c.result;
  return h("div", {},
    h("dl", { class: "props" },
      h("dt", {}, "Command"), h("dd", {}, fmt.text(c.command)),
      h("dt", {}, "CPO response"), h("dd", {}, commandBadge(c.response, "not delivered"),
        c.response_message ? h("span", {}, " ", String(c.response_message)) : null),
      h("dt", {}, "Result"), h("dd", {}, c.result ? commandBadge(c.result) : h("span", { class: "muted" },
        pending ? (waited ? `none within ${waited} s: it shows on the command's page when it comes` : "not waited for: it shows on the command's page when it comes")
          : "none (the command was not accepted)"),
      c.result_message ? h("span", {}, " ", String(c.result_message)) : null)),
    h("p", {}, h("a", {
      href: href(`/roaming/commands/${seg(c.id)}`),
      onclick: (e) => e.currentTarget.closest("dialog")?.close(),
    }, `Open command #${c.id}`)));
}

/** Opens the dialog; resolves with the sent command (or null when cancelled). */
export async function sendCommandDialog({ partnerId = null } = {}) {
  let partners;
  try {
    partners = await partnersWithRole("CPO");
  } catch (err) {
    toast(err?.detail || err?.message || String(err), "error", 8000);
    return null;
  }
  const partner = select({ name: "partner_id", required: true },
    [["", partners.length ? "Choose a partner" : "No registered CPO partner"], ...partners.map((p) => [p.id, p.name])],
    partnerId ?? (partners.length === 1 ? partners[0].id : ""));
  const command = select({ name: "command", required: true }, COMMANDS, "START_SESSION");
  const wait = h("input", { name: "wait", type: "number", min: 0, max: 60, step: 1, value: "10", inputmode: "numeric" });
  const inputs = {};
  const rows = {};
  for (const [name, [label, hint]] of Object.entries(LABELS)) {
    inputs[name] = name === "expiry_date"
      ? h("input", { name, type: "datetime-local" })
      : h("input", { name, maxlength: 36, autocomplete: "off", spellcheck: "false" });
    rows[name] = field(label, inputs[name], hint);
  }
  const hint = h("p", { class: "command-hint", "aria-live": "polite" });

  // Only the fields of the chosen command are in the form (in its order); the others
  // keep what was typed for when that command is chosen again.
  const box = h("div", { class: "command-fields" });
  function show() {
    const wanted = FIELDS[command.value] || [];
    for (const [name, required] of wanted) inputs[name].required = required;
    replace(box, wanted.map(([name]) => rows[name]));
  }
  command.addEventListener("change", show);
  show();

  function body() {
    const out = { command: command.value };
    for (const [name] of FIELDS[command.value]) {
      const value = name === "expiry_date" ? isoFromLocal(inputs[name].value) : optional(inputs[name].value);
      if (value !== null) out[name] = value;
    }
    const seconds = Number(wait.value);
    out.wait = wait.value === "" || !Number.isFinite(seconds) ? 0 : seconds;
    return out;
  }

  let waited = 0;
  const sent = await formDialog("Send an OCPI command", () => [
    field("CPO partner", partner),
    field("Command", command),
    box,
    field("Wait for the result (seconds)", wait, "0 to 60: how long to wait for the Charge Point's result."),
    hint,
  ], async () => {
    const request = body();
    waited = request.wait;
    hint.textContent = request.wait > 0 ? `Sending; waiting up to ${request.wait} s for the result…` : "";
    try {
      return await api.post(`/ocpi/partners/${seg(partner.value)}/commands`, request);
    } catch (err) {
      hint.textContent = statusHint(err);
      throw err;
    }
  }, { submitLabel: "Send" });
  if (!sent) return null;
  resultDialog(`${sent.command} sent`, answerView(sent, waited));
  return sent;
}
