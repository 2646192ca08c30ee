// Configuration across stations: search what every station has stored (e.g. each
// station's HeartbeatInterval) and, for operators, set one value on many stations at once
// (POST /configuration/bulk) with each station's outcome.

import { api, seg } from "../api.js";
import { confirmDialog } from "../components/dialog.js";
import { badge, errorBox } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href } from "../router.js";
import { can } from "../session.js";
import { componentLabel, variableLabel } from "./station/config.js";

function input(name, label, hint, props = {}) {
  return field(label, h("input", { name, maxlength: 50, autocomplete: "off", spellcheck: "false", ...props }), hint);
}

function bulkForm(onDone) {
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "stack", "aria-label": "Change many stations" },
    field("Stations", h("textarea", { name: "stations", rows: 3, spellcheck: "false", autocomplete: "off" }),
      "Station ids, one per line or comma-separated. Or leave empty and choose by vendor / model / firmware below."),
    h("div", { class: "grid" },
      input("vendor", "Vendor", null, { maxlength: 255 }),
      input("model", "Model", null, { maxlength: 255 }),
      input("firmware_version", "Firmware version", null, { maxlength: 255 })),
    h("div", { class: "grid" },
      input("key", "1.6 key", "e.g. HeartbeatInterval"),
      input("component", "2.x component", "e.g. OCPPCommCtrlr"),
      input("variable", "2.x variable", "e.g. HeartbeatInterval")),
    field("Value", h("input", { name: "value", required: true, maxlength: 2500, autocomplete: "off", spellcheck: "false" })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply to stations")),
    out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const text = (name) => f[name].value.trim();
    const ids = text("stations").split(/[\s,]+/).filter(Boolean);
    const value = { value: f.value.value };
    for (const name of ["key", "component", "variable"]) if (text(name)) value[name] = text(name);
    const body = { values: [value] };
    if (ids.length) body.station_ids = ids;
    for (const name of ["vendor", "model", "firmware_version"]) if (text(name)) body[name] = text(name);
    const who = ids.length ? `${ids.length} station(s)` : "every matching station";
    if (!await confirmDialog("Change the configuration?", `Set ${value.key || value.variable || "the value"} to “${value.value}” on ${who}.`, { confirmLabel: "Apply" })) return;
    replace(out, h("p", { class: "muted" }, "Asking the stations…"));
    try {
      const answer = await api.post("/configuration/bulk", body);
      const counts = Object.entries(answer.counts || {}).map(([k, n]) => `${n} ${k}`).join(", ") || "no station matched";
      replace(out,
        h("p", { role: "status" }, `${answer.stations} station(s): ${counts}.`),
        h("table", { class: "data bulk-results" },
          h("caption", { class: "visually-hidden" }, "Outcome per station"),
          h("thead", {}, h("tr", {}, ["Station", "Version", "Outcome", "Details"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, (answer.results || []).map((r) => h("tr", { "data-station": r.station_id },
            h("td", {}, h("a", { href: href(`/stations/${seg(r.station_id)}`, { tab: "configuration" }) }, r.station_id)),
            h("td", {}, fmt.text(r.ocpp_version)),
            h("td", {}, badge(r.status)),
            h("td", {}, r.detail || (r.results || []).map((x) => `${variableLabel(x)}: ${x.station_status || x.status}`).join("; ") || fmt.DASH))))));
      onDone();
    } catch (err) {
      replace(out, errorBox(err));
    }
  });
  return form;
}

export default {
  path: "/configuration",
  title: "Configuration",
  nav: { label: "Configuration", order: 35 },

  async render(root) {
    const table = pagedTable({
      caption: "Stored configuration of all stations",
      pageSize: 50,
      search: "Search component, variable or value",
      empty: "Nothing stored yet: read a station's configuration from its page.",
      load: ({ limit, offset, q }) => api.get("/configuration", { limit, offset, q: q || undefined }),
      columns: [
        { key: "station_id", label: "Station", render: (v) => h("a", { href: href(`/stations/${seg(v.station_id)}`, { tab: "configuration" }) }, v.station_id) },
        { key: "component", label: "Component", render: componentLabel },
        { key: "variable", label: "Variable / key", render: variableLabel },
        { key: "value", label: "Value", class: "value-cell", render: (v) => fmt.text(v.value) },
        { key: "source", label: "From", render: (v) => [v.source, v.reboot_required ? [" ", badge("reboot required", "badge-expired")] : null] },
        { key: "updated_at", label: "Updated", render: (v) => (v.updated_at ? h("time", { datetime: v.updated_at, title: fmt.time(v.updated_at) }, fmt.ago(v.updated_at)) : fmt.DASH) },
      ],
    });
    root.append(pageHeader("Configuration"));
    if (can("operator")) {
      root.append(h("section", { class: "card" }, h("h2", {}, "Change many stations"),
        h("p", { class: "muted" }, "For a fleet of mixed versions give the 1.6 key and the 2.x component and variable: each station gets the name its version uses."),
        bulkForm(() => table.reload())));
    }
    root.append(h("section", { class: "card" }, h("h2", {}, "Stored values"), table.el));
  },
};
