// Setting a charging profile on a station: a simple form for the common case (one limit
// for the whole station or as the default of every transaction) or the profile as JSON
// for anything else. The server checks it against the spec's rules; a 422 lists each
// violation (where, what, and the requirement that says so) inside the dialog, which
// stays open to fix it. The station's answer (Accepted, Rejected) is shown afterwards.

import { api } from "../../api.js";
import { commandHint, answerBody } from "../../components/command.js";
import { resultDialog } from "../../components/dialog.js";
import { errorBox, toast } from "../../components/notice.js";
import { field, h, replace, select } from "../../dom.js";
import * as fmt from "../../format.js";

const SIMPLE_PURPOSES = [
  ["TxDefaultProfile", "Default for every transaction (TxDefaultProfile)"],
  ["ChargingStationMaxProfile", "Maximum of the whole station (ChargingStationMaxProfile)"],
];

/** The violations of a 422 answer: [{path, message, requirement}] (also under errors). */
export function violationsOf(err) {
  const p = err?.problem || {};
  const list = p.violations || p.errors || [];
  return Array.isArray(list) ? list : [];
}

/** A 422's violations as a list an operator can act on. */
export function violationsBox(err) {
  const list = violationsOf(err);
  return h("div", { class: "error-box violations", role: "alert" },
    h("strong", {}, err?.title && err.title !== err.detail ? `${err.title}: ` : "Refused: "),
    list.length ? "the profile breaks these rules:" : (err?.detail || err?.message || String(err)),
    list.length ? h("ul", {}, list.map((v) => h("li", {},
      h("code", {}, String(v.path ?? (Array.isArray(v.loc) ? v.loc.join(".") : v.loc ?? ""))), " ",
      v.message || v.msg || "",
      v.requirement ? [" ", h("span", { class: "requirement" }, `(${v.requirement})`)] : null))) : null);
}

/** The profile the simple form describes: one Absolute schedule, one period, in force
 *  from the start of the current minute (a start a moment in the past, so that a clock
 *  a little behind ours, or a start cut to whole seconds, still finds it in force). */
export function simpleProfile({ id, stackLevel, purpose, limit, unit, phases }) {
  const period = { start_period: 0, limit };
  if (phases) period.number_phases = phases;
  const start = new Date(Math.floor(Date.now() / 60000) * 60000).toISOString();
  return {
    id,
    stack_level: stackLevel,
    purpose,
    kind: "Absolute",
    schedules: [{ id: 1, rate_unit: unit, start, periods: [period] }],
  };
}

/**
 * Ask for a profile and send it. `evses`: the station's EVSE ids; `nextId`: a free
 * profile id to suggest. Resolves with the answer ({status, response, profile}) or null.
 */
export function setProfileDialog(env, { evses = [], nextId = 1 } = {}) {
  return new Promise((resolve) => {
    const evseChoices = [["0", "0: the whole station"], ...evses.filter((e) => e > 0).map((e) => [String(e), `EVSE ${e}`])];
    const mode = select({ name: "mode" }, [["simple", "Simple: one limit"], ["json", "JSON: any profile"]], "simple");
    const evse = select({ name: "evse_id" }, evseChoices, "0");
    const purpose = select({ name: "purpose" }, SIMPLE_PURPOSES, "TxDefaultProfile");
    const limit = h("input", { name: "limit", type: "number", min: 0, step: "any", value: "16", required: true, autocomplete: "off" });
    const unit = select({ name: "unit" }, [["A", "A (per phase)"], ["W", "W (all phases)"]], "A");
    const phases = select({ name: "phases" }, [["", "Station's default (3)"], ["1", "1"], ["2", "2"], ["3", "3"]], "");
    const profileId = h("input", { name: "profile_id", type: "number", min: 1, step: 1, value: String(nextId), required: true, autocomplete: "off" });
    const stack = h("input", { name: "stack_level", type: "number", min: 0, step: 1, value: "0", required: true, autocomplete: "off" });
    const json = h("textarea", { name: "profile", rows: 14, spellcheck: "false", autocomplete: "off", class: "json-editor" });
    const simpleBox = h("div", { class: "profile-simple" },
      h("div", { class: "grid" }, field("Purpose", purpose), field("Limit", limit), field("Unit", unit), field("Phases", phases)),
      h("div", { class: "grid" }, field("Profile id", profileId, "The same id replaces that profile."), field("Stack level", stack, "Higher levels win within a purpose.")));
    const jsonBox = h("div", { class: "profile-json" },
      field("Profile (JSON)", json, "snake_case, as the API lists profiles: {id, stack_level, purpose, kind, schedules: [{id, rate_unit, periods: [{start_period, limit}]}]}."));
    const errors = h("div", { class: "dialog-errors", "aria-live": "assertive" });

    const fromSimple = () => simpleProfile({
      id: Number(profileId.value),
      stackLevel: Number(stack.value),
      purpose: purpose.value,
      limit: Number(limit.value),
      unit: unit.value,
      phases: phases.value ? Number(phases.value) : null,
    });
    function show() {
      const simple = mode.value === "simple";
      if (!simple && !json.value.trim()) json.value = fmt.json(fromSimple());
      simpleBox.hidden = !simple;
      jsonBox.hidden = simple;
      for (const el of [limit, profileId, stack]) el.required = simple;
      json.required = !simple;
    }
    mode.addEventListener("change", show);

    const cancel = h("button", { type: "button" }, "Cancel");
    const ok = h("button", { type: "submit", class: "primary" }, "Send profile");
    const form = h("form", { class: "dialog-form" },
      h("div", { class: "grid" }, field("Form", mode), field("EVSE", evse, "0: the station as a whole (its maximum, or the default of every EVSE).")),
      simpleBox, jsonBox, errors, h("div", { class: "actions" }, cancel, ok));
    const dialog = h("dialog", { class: "dialog profile-dialog", "aria-label": "Set a charging profile" },
      h("h2", {}, "Set a charging profile"), form);
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      replace(errors);
      let profile;
      if (mode.value === "json") {
        try {
          profile = JSON.parse(json.value);
        } catch (err) {
          replace(errors, errorBox(new Error(`The profile is not valid JSON: ${err.message}`)));
          json.focus();
          return;
        }
      } else {
        profile = fromSimple();
      }
      ok.disabled = true;
      const waiting = h("p", { class: "muted" }, "Waiting for the station's answer…");
      errors.append(waiting);
      try {
        result = await api.post(`${env.path}/charging-profile`, { evse_id: Number(evse.value), profile });
        dialog.close();
      } catch (err) {
        waiting.remove();
        const hint = err.status === 422 ? null : commandHint(err.status);
        replace(errors, hint ? h("p", { class: "command-hint" }, h("strong", {}, `HTTP ${err.status}: `), hint) : null,
          err.status === 422 ? violationsBox(err) : errorBox(err));
      } finally {
        ok.disabled = false;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (result) {
        const accepted = String(result.status).toLowerCase() === "accepted";
        if (accepted) toast(`Profile ${result.profile?.id ?? ""} installed: the station accepted it.`.replace("  ", " "), "ok");
        else resultDialog("Set charging profile", answerBody(result));
      }
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    show();
    mode.focus();
  });
}
