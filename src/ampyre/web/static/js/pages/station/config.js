// The station page's Configuration tab: the stored configuration (1.6 keys or the 2.x
// device model), searchable; for operators: read it from the station (a full report for
// 2.x, every key for 1.6) and set a value. Values come from the station: text only.

import { api } from "../../api.js";
import { runCommand } from "../../components/command.js";
import { formDialog } from "../../components/dialog.js";
import { badge } from "../../components/notice.js";
import { pagedTable } from "../../components/table.js";
import { field, h } from "../../dom.js";
import * as fmt from "../../format.js";
import { can } from "../../session.js";

/** "Component[instance] · EVSE 1/2" of a stored variable or result, or "—" for 1.6. */
export function componentLabel(v) {
  if (!v.component) return fmt.DASH;
  let text = v.component + (v.component_instance ? `[${v.component_instance}]` : "");
  if (v.evse_id) text += ` · EVSE ${v.evse_id}${v.connector_id ? `/${v.connector_id}` : ""}`;
  return text;
}

export function variableLabel(v) {
  const name = v.variable + (v.variable_instance ? `[${v.variable_instance}]` : "");
  return v.attribute_type && v.attribute_type !== "Actual" ? `${name} (${v.attribute_type})` : name;
}

/** The per-value results of a read or a change, as a table. */
export function resultsTable(results, caption) {
  return h("table", { class: "data" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ["Component", "Variable", "Value", "Result"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, results.map((r) => h("tr", {},
      h("td", {}, componentLabel(r)),
      h("td", {}, variableLabel(r)),
      h("td", { class: "value-cell" }, fmt.text(r.value)),
      h("td", {}, badge(r.status), r.detail ? h("small", { class: "muted" }, ` ${r.detail}`) : null)))));
}

export function configTab(panel, env) {
  const v16 = () => env.station().ocpp_version === "ocpp1.6";
  const table = pagedTable({
    caption: "Configuration",
    pageSize: 50,
    search: "Search component, variable or value",
    empty: "Nothing stored yet: read the configuration from the station.",
    load: ({ limit, offset, q }) => api.get(`${env.path}/configuration`, { limit, offset, q: q || undefined }),
    columns: [
      { key: "component", label: "Component", render: componentLabel },
      { key: "variable", label: "Variable / key", render: variableLabel },
      { key: "value", label: "Value", class: "value-cell", render: (v) => fmt.text(v.value) },
      { key: "mutability", label: "Access", render: (v) => fmt.text(v.mutability) },
      {
        key: "source", label: "From",
        render: (v) => [v.source, v.reboot_required ? [" ", badge("reboot required", "badge-expired")] : null],
      },
      { key: "updated_at", label: "Updated", render: (v) => (v.updated_at ? h("time", { datetime: v.updated_at, title: fmt.time(v.updated_at) }, fmt.ago(v.updated_at)) : fmt.DASH) },
    ],
  });
  const reportState = h("p", { class: "muted", "aria-live": "polite" });

  async function showLastReport() {
    try {
      const page = await api.get(`${env.path}/configuration/reports`, { limit: 1 });
      const r = (page.items || [])[0];
      reportState.textContent = r
        ? `Last report: ${r.kind}, ${r.state}, ${r.parts} part(s), ${r.variables} value(s), ${fmt.time(r.requested_at)}${r.detail ? ` (${r.detail})` : ""}`
        : "No report requested yet.";
      return r;
    } catch {
      return null;
    }
  }

  async function readAll() {
    await runCommand(v16() ? "Read all keys" : "Full report", () => api.post(`${env.path}/configuration/reports`, { kind: "FullInventory" }), {
      render: (r) => h("p", {}, `Report ${r.id}: `, badge(r.state), ` · ${r.variables} value(s) so far`),
    });
    table.reload();
    // A 2.x report arrives in parts after the answer: follow it for a while.
    let tries = 0;
    const follow = async () => {
      const r = await showLastReport();
      if (!env.scope.alive) return;
      table.reload();
      if (r && (r.state === "requested" || r.state === "receiving") && ++tries < 30) setTimeout(follow, 1000);
    };
    follow();
  }

  async function setValue() {
    const input = await formDialog("Set a value", () => [
      v16() ? null : field("Component", h("input", { name: "component", required: true, maxlength: 50, autocomplete: "off", spellcheck: "false" }), "e.g. OCPPCommCtrlr"),
      field(v16() ? "Key" : "Variable", h("input", { name: "variable", required: true, maxlength: 50, autocomplete: "off", spellcheck: "false" }), v16() ? "e.g. HeartbeatInterval" : null),
      field("Value", h("input", { name: "value", maxlength: 2500, autocomplete: "off", spellcheck: "false" })),
    ], async (form) => {
      const body = { variable: form.elements.variable.value.trim(), value: form.elements.value.value };
      if (form.elements.component) body.component = form.elements.component.value.trim();
      return body;
    }, { submitLabel: "Set" });
    if (!input) return;
    await runCommand("Set value", () => api.post(`${env.path}/configuration`, { values: [input] }), {
      render: (answer) => h("div", {},
        resultsTable(answer.results || [], "Result"),
        answer.reboot_required ? h("p", {}, "The new value applies after the station reboots.") : null),
    });
    table.reload();
  }

  const actions = can("operator")
    ? h("div", { class: "actions" },
      h("button", { type: "button", onclick: readAll }, v16() ? "Read all keys" : "Request full report"),
      h("button", { type: "button", onclick: setValue }, "Set a value"))
    : null;
  panel.append(h("h2", {}, "Configuration"), actions, reportState, table.el);
  showLastReport();
}
