// Sending a command to a station and showing what came back: the station's answer
// (status + its payload as pretty JSON text) or why nothing useful came back (not
// connected, no answer in time, refused before sending, a CALLERROR), in a dialog.

import { h } from "../dom.js";
import * as fmt from "../format.js";
import { resultDialog } from "./dialog.js";
import { badge, errorBox, toast } from "./notice.js";

/** What an HTTP status of a command means for the operator. */
export function commandHint(status) {
  switch (status) {
    case 409: return "Nothing was sent: the station is not connected, or the command conflicts with its state.";
    case 504: return "The command was sent but the station did not answer in time.";
    case 502: return "The station answered with an error (CALLERROR).";
    case 422: return "Nothing was sent: the request was refused as invalid.";
    case 400: return "Nothing was sent: the station's OCPP version has no such action.";
    case 403: return "Your role may not do this.";
    case 404: return "Not found: the station (or what the command refers to) does not exist.";
    default: return null;
  }
}

/** A labelled block of pretty JSON, always as text. */
export function jsonBlock(value, label = "Response") {
  return h("div", { class: "json-block" },
    h("h3", {}, label),
    h("pre", { tabindex: "0", "aria-label": label }, fmt.json(value)));
}

/** The body of a result dialog for an answer {status, response, ...}. */
export function answerBody(answer) {
  const status = answer?.status ?? "ok";
  return h("div", {},
    h("p", {}, "Status: ", badge(status)),
    jsonBlock(answer?.response !== undefined ? answer.response : answer));
}

/** The body of a result dialog for a failed command. */
export function failureBody(err) {
  const hint = commandHint(err?.status);
  return h("div", {},
    hint ? h("p", { class: "command-hint" }, h("strong", {}, `HTTP ${err.status}: `), hint) : null,
    errorBox(err),
    err?.problem ? jsonBlock(err.problem, "Problem details") : null);
}

/**
 * Run `call` (an async function doing the API request), telling the user it is waiting
 * for the station, then show the answer or the failure in a dialog. Resolves with the
 * answer, or undefined after a failure.
 */
export async function runCommand(title, call, { render = answerBody } = {}) {
  const waiting = toast(`${title}: waiting for the station's answer…`, "info", 120000);
  try {
    const answer = await call();
    waiting.remove();
    resultDialog(title, render(answer));
    return answer;
  } catch (err) {
    waiting.remove();
    resultDialog(`${title}: failed`, failureBody(err));
    return undefined;
  }
}
