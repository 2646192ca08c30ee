// Form pieces the admin pages share: date-time inputs in the browser's zone that the API
// gets as UTC ISO strings, checkbox groups, a one-time secret with a copy button, and the
// enum values the API accepts (read from its OpenAPI document, so they cannot drift).

import { api } from "../api.js";
import { h } from "../dom.js";
import { toast } from "./notice.js";

const pad = (n) => String(n).padStart(2, "0");

/** ISO date-time -> "YYYY-MM-DDTHH:MM" in local time for <input type="datetime-local">. */
export function localInputValue(iso) {
  if (!iso) return "";
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of a datetime-local input as a UTC ISO string, or null when empty. The input
 *  holds local time without a zone; the API would take a naive time as UTC. */
export function isoFromLocal(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** "" -> null, anything else trimmed (optional text fields the API wants absent/null). */
export function optional(value) {
  const v = String(value ?? "").trim();
  return v === "" ? null : v;
}

/** A fieldset of checkboxes; values() gives the checked ones. */
export function checkboxGroup(legend, options, checked = [], hint = null) {
  const boxes = options.map((value) => h("input", {
    type: "checkbox", value, checked: checked.includes(value),
  }));
  const el = h("fieldset", { class: "checks" },
    h("legend", {}, legend),
    hint ? h("small", { class: "hint" }, hint) : null,
    boxes.map((box) => h("label", {}, box, " ", box.value)));
  return { el, values: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

/** A single checkbox with its label after it. */
export function checkbox(label, checked) {
  const input = h("input", { type: "checkbox", checked: Boolean(checked) });
  return { el: h("label", { class: "check" }, input, " ", label), input };
}

/** A secret shown this once: read-only field, copy button, a warning. */
export function secretBox(label, secret, warning) {
  const input = h("input", { type: "text", readonly: true, value: secret, class: "secret", spellcheck: "false" });
  const copy = h("button", {
    type: "button",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
      } catch {
        // No clipboard API outside secure contexts (plain http on a LAN): the old way.
        input.select();
        if (!document.execCommand("copy")) {
          toast("Copying is not allowed here: select the text and copy it.", "error");
          return;
        }
      }
      toast("Copied.", "ok", 2500);
    },
  }, "Copy");
  const id = `secret-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  return h("div", { class: "secret-box" },
    h("p", { class: "notice", role: "alert" }, warning),
    h("label", { for: id }, label),
    h("div", { class: "secret-row" }, input, copy));
}

let schemas = null;

/** The values of an enum schema of the API ("EventType", "TokenStatus", ...), or fallback. */
export async function apiEnum(name, fallback) {
  try {
    schemas ??= (await api.get("/openapi.json")).components.schemas;
    const values = schemas?.[name]?.enum;
    return Array.isArray(values) && values.length ? values : fallback;
  } catch {
    schemas = null;
    return fallback;
  }
}
