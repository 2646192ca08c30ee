// The raw command: any OCPP action of the station's version with a JSON payload typed
// in an editor, checked against the action's schema on the server (validate) before it
// is sent, and sent only after a confirmation.

import { api, seg } from "../../api.js";
import { runCommand } from "../../components/command.js";
import { confirmDialog } from "../../components/dialog.js";
import { errorBox } from "../../components/notice.js";
import { field, h, replace, select } from "../../dom.js";
import * as fmt from "../../format.js";

const ACTION_PATTERN = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** The payload typed in, as an object; throws an Error that says what is wrong. */
function parsePayload(text) {
  const trimmed = text.trim();
  if (trimmed === "") return {};
  let value;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    throw new Error(`The payload is not valid JSON: ${err.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("The payload must be a JSON object ({ … }).");
  }
  return value;
}

export function rawCommand(env, actionsReady) {
  const holder = h("div", { class: "raw-action" }, h("p", { class: "muted" }, "Loading the station's actions…"));
  const editor = h("textarea", {
    name: "payload", rows: 12, spellcheck: "false", autocomplete: "off", autocapitalize: "off",
    class: "json-editor", value: "{}",
  });
  const output = h("div", { class: "raw-output", "aria-live": "polite" });
  let getAction = () => "";
  let typed = {};

  function problem(err, prefix) {
    replace(output, prefix ? h("p", {}, prefix) : null, errorBox(err));
  }

  /** Checks the action and payload locally, then on the server. Returns the payload or null. */
  async function validate() {
    replace(output);
    const action = getAction();
    if (!ACTION_PATTERN.test(action)) {
      problem(new Error("Choose an OCPP action (letters and digits, e.g. GetConfiguration)."));
      return null;
    }
    if (typed[action]) {
      problem(new Error(`${action} changes state Ampyre keeps: use ${typed[action]} (the commands above) instead.`));
      return null;
    }
    let payload;
    try {
      payload = parsePayload(editor.value);
    } catch (err) {
      problem(err);
      editor.focus();
      return null;
    }
    try {
      const answer = await api.post(`${env.path}/ocpp/${seg(action)}/validate`, payload);
      replace(output, h("p", { class: "valid" }, `✓ Valid ${action} payload`,
        answer?.ocpp_version ? ` for ${answer.ocpp_version}` : "", "."));
      return payload;
    } catch (err) {
      if (err.status === 404 && err.problem?.type === "about:blank") {
        // No validate route on this server: the send itself checks the schema.
        replace(output, h("p", { class: "muted" }, "The server cannot check payloads ahead; the send checks it."));
        return payload;
      }
      problem(err, err.status === 422 ? "The payload does not match the action's schema:" : null);
      return null;
    }
  }

  async function send() {
    const payload = await validate();
    if (payload === null) return;
    const action = getAction();
    const ok = await confirmDialog(`Send ${action}?`,
      h("span", {}, `Send this ${action} to ${env.id}:`, h("pre", {}, fmt.json(payload))),
      { confirmLabel: `Send ${action}`, danger: true });
    if (!ok) return;
    await runCommand(action, () => api.post(`${env.path}/ocpp/${seg(action)}`, payload));
  }

  function format() {
    try {
      editor.value = fmt.json(parsePayload(editor.value));
      replace(output);
    } catch (err) {
      problem(err);
    }
  }

  actionsReady.then((found) => {
    const list = found?.actions || [];
    typed = found?.typed_endpoints || {};
    if (list.length) {
      const usable = list.filter((a) => !typed[a]);
      const control = select({ name: "action" }, usable, usable.includes("GetConfiguration") ? "GetConfiguration" : usable.includes("GetVariables") ? "GetVariables" : usable[0]);
      getAction = () => control.value;
      replace(holder, field("Action", control,
        `${found.ocpp_version || "The station's"} actions Ampyre can send.${Object.keys(typed).length ? ` ${Object.keys(typed).join(", ")} go through the commands above.` : ""}`));
    } else {
      // No action list (older server, or a station that never connected): type the name.
      const control = h("input", { name: "action", required: true, pattern: ACTION_PATTERN.source, autocomplete: "off", spellcheck: "false", placeholder: "e.g. GetConfiguration" });
      getAction = () => control.value.trim();
      replace(holder, field("Action", control, "The OCPP action name, as in the station's OCPP version."));
    }
  });

  return h("section", { class: "raw-command", "aria-labelledby": "raw-title" },
    h("h3", { id: "raw-title" }, "Raw command"),
    h("p", { class: "muted" }, "Any OCPP action with a payload you write. It is checked against the action's schema before it is sent."),
    holder,
    field("Payload (JSON)", editor, "A JSON object: the OCPP request payload."),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: format }, "Format JSON"),
      h("button", { type: "button", onclick: validate }, "Validate"),
      h("button", { type: "button", class: "primary", onclick: send }, "Send…")),
    output);
}
