// The station page's Commands tab (operator and up; the server refuses the rest anyway):
// the typed commands, each asked for in a dialog, confirmed when disruptive, and the
// station's answer shown; the raw command editor below them.

import { api, seg } from "../../api.js";
import { answerBody, jsonBlock, runCommand } from "../../components/command.js";
import { confirmDialog, formDialog } from "../../components/dialog.js";
import { badge } from "../../components/notice.js";
import { append, field, h, select } from "../../dom.js";
import * as fmt from "../../format.js";
import { href } from "../../router.js";
import { connectorsOf, evsesOf, place } from "./parts.js";
import { rawCommand } from "./raw.js";
import { remoteCommands } from "./remote.js";

// What TriggerMessage can ask for when the action list is not available.
const TRIGGERS = ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "FirmwareStatusNotification"];

const int = (value) => (value === "" || value === null || value === undefined ? null : Number(value));

/** [value, label] pairs of "evse:connector" for every connector. */
function connectorChoices(station) {
  return connectorsOf(station).map(([e, c]) => [`${e}:${c}`, place(e, c)]);
}

function evseChoices(station, anyLabel) {
  return [["", anyLabel], ...evsesOf(station).map((e) => [String(e), `EVSE ${e}`])];
}

function noConnectors(title) {
  return formDialog(title, () => h("p", {}, "This station has not reported any connector yet."), async () => null, { submitLabel: "OK" });
}

/** A datalist of stored id tokens (the first 100), filled when they arrive. */
function knownTokens() {
  const list = h("datalist", { id: "known-tokens" });
  api.get("/id-tokens", { limit: 100 }).then((page) => {
    for (const t of page.items || []) list.append(h("option", { value: t.id_token }, t.description || t.type || ""));
  }).catch(() => {});
  return list;
}

export function commandsTab(panel, env) {
  const station = env.station;
  const post = (suffix, body) => api.post(`${env.path}/${suffix}`, body);
  let actions = null; // GET .../ocpp-actions, or null when that endpoint is not there
  const actionsReady = api.get(`${env.path}/ocpp-actions`).then((a) => {
    actions = Array.isArray(a) ? { actions: a } : a;
    return actions;
  }).catch(() => null);

  async function remoteStart() {
    const s = station();
    const input = await formDialog("Remote start", () => [
      field("EVSE", select({ name: "evse" }, evseChoices(s, "Station chooses"), evsesOf(s)[0] ?? ""),
        s.ocpp_version === "ocpp1.6" ? "OCPP 1.6: the connector id." : null),
      field("Id token", h("input", { name: "id_token", required: true, maxlength: 255, autocomplete: "off", spellcheck: "false", list: "known-tokens" }),
        "The token the transaction is started for (1.6 idTag)."),
      knownTokens(),
    ], async (form) => ({ evse_id: int(form.elements.evse.value), id_token: form.elements.id_token.value.trim() }),
    { submitLabel: "Continue" });
    if (!input) return;
    const where = input.evse_id ? `EVSE ${input.evse_id}` : "an EVSE the station chooses";
    if (!await confirmDialog("Start charging?", `Ask ${s.id} to start a transaction on ${where} for ${input.id_token}.`, { confirmLabel: "Start" })) return;
    const body = { id_token: input.id_token };
    if (input.evse_id) body.evse_id = input.evse_id;
    await runCommand("Remote start", () => post("remote-start", body), {
      render: (answer) => h("div", {}, answerBody(answer),
        answer.transaction ? h("p", {}, "Transaction ", h("a", { href: href(`/transactions/${seg(answer.transaction.id)}`) }, `#${answer.transaction.id}`), " started.") : null),
    });
  }

  async function remoteStop() {
    let active;
    try {
      active = (await api.get("/transactions", { station_id: env.id, status: "active", limit: 100 })).items || [];
    } catch (err) {
      await runCommand("Remote stop", () => Promise.reject(err));
      return;
    }
    if (active.length === 0) {
      await formDialog("Remote stop", () => h("p", {}, "No transaction is active at this station."), async () => null, { submitLabel: "OK" });
      return;
    }
    const choices = active.map((t) => [String(t.id),
      `#${t.id} · ${t.evse_id ? `EVSE ${t.evse_id}` : "EVSE ?"} · ${t.id_token || "no token"} · since ${fmt.time(t.started_at)}`]);
    const pk = await formDialog("Remote stop", () => [
      field("Transaction", select({ name: "tx" }, choices, choices[0][0])),
    ], async (form) => Number(form.elements.tx.value), { submitLabel: "Continue" });
    if (!pk) return;
    if (!await confirmDialog("Stop charging?", `Ask ${env.id} to stop transaction #${pk}.`, { confirmLabel: "Stop", danger: true })) return;
    await runCommand("Remote stop", () => post("remote-stop", { transaction_id: pk }));
  }

  async function reset() {
    const s = station();
    const v2 = s.ocpp_version && s.ocpp_version !== "ocpp1.6";
    const input = await formDialog("Reset", () => [
      field("Kind", select({ name: "kind" }, [["soft", "Soft: end transactions, then restart"], ["hard", "Hard: restart at once"]], "soft"),
        v2 ? "OCPP 2.x has no hard reset: both are sent as an immediate reset; a hard one cannot wait for idle." : null),
      v2 ? field("When", select({ name: "when" }, [["immediate", "Immediately"], ["on_idle", "When no transaction runs"]], "immediate")) : null,
    ], async (form) => ({ kind: form.elements.kind.value, when: form.elements.when?.value || "immediate" }), { submitLabel: "Continue" });
    if (!input) return;
    const hard = input.kind === "hard";
    const ok = await confirmDialog(hard ? "Hard reset?" : "Soft reset?",
      hard ? `${s.id} restarts at once: running transactions are cut off.` : `${s.id} ends its transactions and restarts.`,
      { confirmLabel: hard ? "Hard reset" : "Reset", danger: hard });
    if (!ok) return;
    const body = { kind: input.kind };
    if (input.when !== "immediate") body.when = input.when;
    await runCommand("Reset", () => post("reset", body));
  }

  async function availability() {
    const s = station();
    const targets = [["", "Whole station"], ...evsesOf(s).map((e) => [`${e}:`, `EVSE ${e}`])];
    if (s.ocpp_version && s.ocpp_version !== "ocpp1.6") {
      for (const [e, c] of connectorsOf(s)) targets.push([`${e}:${c}`, place(e, c)]);
    }
    const input = await formDialog("Change availability", () => [
      field("Availability", select({ name: "operative" }, [["true", "Operative"], ["false", "Inoperative"]], "false")),
      field("Target", select({ name: "target" }, targets, "")),
    ], async (form) => ({ operative: form.elements.operative.value === "true", target: form.elements.target.value }),
    { submitLabel: "Continue" });
    if (!input) return;
    const [e, c] = input.target.split(":");
    const body = { operative: input.operative };
    if (e) body.evse_id = Number(e);
    if (c) body.connector_id = Number(c);
    const label = targets.find(([v]) => v === input.target)?.[1] || "Whole station";
    const ok = await confirmDialog("Change availability?",
      `Make ${label.toLowerCase()} of ${s.id} ${input.operative ? "operative" : "inoperative"}.`,
      { confirmLabel: input.operative ? "Make operative" : "Make inoperative", danger: !input.operative });
    if (!ok) return;
    await runCommand("Change availability", () => post("availability", body));
  }

  async function unlock() {
    const s = station();
    const choices = connectorChoices(s);
    if (!choices.length) return noConnectors("Unlock connector");
    const target = await formDialog("Unlock connector", () => [
      field("Connector", select({ name: "target" }, choices, choices[0][0])),
    ], async (form) => form.elements.target.value, { submitLabel: "Continue" });
    if (!target) return;
    const [e, c] = target.split(":").map(Number);
    if (!await confirmDialog("Unlock connector?", `Unlock ${place(e, c)} of ${s.id}. A 1.6 station ends a transaction running there.`, { confirmLabel: "Unlock", danger: true })) return;
    await runCommand("Unlock connector", () => post("unlock", { evse_id: e, connector_id: c }));
  }

  async function trigger() {
    const s = station();
    const known = (await actionsReady)?.trigger_messages;
    const messages = known && known.length ? known : TRIGGERS;
    const input = await formDialog("Trigger message", () => [
      field("Message", select({ name: "message" }, messages, "StatusNotification"), "The station sends this message now."),
      field("EVSE (optional)", select({ name: "evse" }, evseChoices(s, "Whole station / not specific"), "")),
    ], async (form) => ({ message: form.elements.message.value, evse_id: int(form.elements.evse.value) }), { submitLabel: "Send" });
    if (!input) return;
    const body = { message: input.message };
    if (input.evse_id) body.evse_id = input.evse_id;
    await runCommand(`Trigger ${input.message}`, () => post("trigger", body));
  }

  async function clearCache() {
    if (!await confirmDialog("Clear the authorization cache?", `${env.id} forgets the id tokens it cached (its local list stays).`, { confirmLabel: "Clear cache" })) return;
    await runCommand("Clear cache", () => post("clear-cache", {}));
  }

  async function pushList() {
    const kind = await formDialog("Push local list", () => [
      field("Update", select({ name: "update_type" }, [["full", "Full: replace the station's list"], ["differential", "Differential: only the changes"]], "full"),
        "Sends the id tokens usable at this station (SendLocalList)."),
    ], async (form) => form.elements.update_type.value, { submitLabel: "Continue" });
    if (!kind) return;
    if (!await confirmDialog("Push the local list?", `Send ${env.id} a ${kind} local authorization list.`, { confirmLabel: "Push" })) return;
    await runCommand("Push local list", () => api.post("/local-lists/push", { station_ids: [env.id], update_type: kind }), {
      render: (answer) => {
        const result = (answer?.results || [])[0] || {};
        return h("div", {}, h("p", {}, "Status: ", badge(result.status || "unknown"),
          result.version !== null && result.version !== undefined ? ` · list version ${result.version}` : "",
          ` · ${result.entries ?? 0} entries`),
        result.detail ? h("p", {}, result.detail) : null,
        jsonBlock(answer));
      },
    });
  }

  async function reserve() {
    const s = station();
    const soon = new Date(Date.now() + 30 * 60000);
    const local = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    const input = await formDialog("Reserve", () => [
      field("EVSE", select({ name: "evse" }, evseChoices(s, "Any EVSE"), evsesOf(s)[0] ?? ""), s.ocpp_version === "ocpp1.6" ? "OCPP 1.6: the connector id." : null),
      field("Id token", h("input", { name: "id_token", required: true, maxlength: 255, autocomplete: "off", spellcheck: "false", list: "known-tokens" })),
      knownTokens(),
      field("Expires", h("input", { name: "expires", type: "datetime-local", required: true, value: local }), "Your local time."),
    ], async (form) => {
      const expires = new Date(form.elements.expires.value);
      if (Number.isNaN(expires.getTime())) throw new Error("Give the expiry date and time.");
      return { evse_id: int(form.elements.evse.value), id_token: form.elements.id_token.value.trim(), expires_at: expires.toISOString() };
    }, { submitLabel: "Continue" });
    if (!input) return;
    if (!await confirmDialog("Reserve?", `Reserve ${input.evse_id ? `EVSE ${input.evse_id}` : "any EVSE"} of ${s.id} for ${input.id_token} until ${fmt.time(input.expires_at)}.`, { confirmLabel: "Reserve" })) return;
    await runCommand("Reserve", () => api.post("/reservations", { station_id: env.id, ...input }), {
      render: (r) => h("div", {}, h("p", {}, `Reservation ${r.id}: `, badge(r.status),
        r.station_answer ? ` · station answered ${r.station_answer}` : "",
        r.delivery?.detail ? ` · ${r.delivery.detail}` : ""),
      jsonBlock(r, "Reservation")),
    });
  }

  const commands = [
    ["Remote start", "Start a transaction for an id token.", remoteStart],
    ["Remote stop", "Stop one of the active transactions.", remoteStop],
    ["Reset", "Restart the station (soft or hard).", reset],
    ["Change availability", "Operative or inoperative: station, EVSE or connector.", availability],
    ["Unlock connector", "Release a stuck cable.", unlock],
    ["Trigger message", "Ask for a status, heartbeat, boot notification, …", trigger],
    ["Clear cache", "Empty the station's authorization cache.", clearCache],
    ["Push local list", "Send the id tokens usable here.", pushList],
    ["Reserve", "Reserve an EVSE for an id token.", reserve],
    ...remoteCommands(env),
  ];
  const list = h("ul", { class: "command-list" }, commands.map(([label, text, fn]) => h("li", {},
    h("button", { type: "button", onclick: fn }, label),
    h("span", { class: "muted" }, text))));
  const offline = station().connected ? null
    : h("p", { class: "notice" }, "The station is not connected now: commands will fail with “not connected” until it is.");
  append(panel, [h("h2", {}, "Commands"), offline, list, rawCommand(env, actionsReady)]);
}
