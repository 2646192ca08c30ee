// The site editor (new site or an existing one): grid connection limit, base load, the
// circuits tree (grid connection -> sub-distribution -> feeder, each with its own limit,
// drawn as a tree while it is typed) and the member stations/EVSEs with their phase
// wiring, minimum and maximum current and priority. Saves with POST /sites or
// PUT /sites/{id}; the server's 422 field errors are shown next to the form.

import { api, seg } from "../../api.js";
import { checkbox } from "../../components/forms.js";
import { errorBox, toast } from "../../components/notice.js";
import { field, h, replace, select } from "../../dom.js";

export const ROTATIONS = ["L1L2L3", "L2L3L1", "L3L1L2", "L1L3L2", "L2L1L3", "L3L2L1"];
const MEMBER_COLUMNS = [["station", "Station"], ["evse", "EVSE"], ["circuit", "Circuit"], ["phases", "Phases"],
  ["rotation", "Phase rotation"], ["min", "Min (A)"], ["max", "Max (A)"], ["priority", "Priority"], ["remove", ""]];
const BASE_MODES = [["none", "None"], ["fixed", "Fixed"], ["measured", "Measured (a station's meter or an API push)"]];

const num = (props = {}) => h("input", { type: "number", inputmode: "decimal", autocomplete: "off", ...props });
const text = (props = {}) => h("input", { type: "text", autocomplete: "off", spellcheck: "false", ...props });

/** "" -> null, else the number (NaN stays NaN so the server says what is wrong). */
function numberOrNull(value) {
  const v = String(value ?? "").trim();
  return v === "" ? null : Number(v);
}

/** An id as the API gave it: a number stays a number, text stays text. */
function idOf(value, numeric) {
  const v = String(value ?? "").trim();
  if (v === "") return null;
  return numeric && /^\d+$/.test(v) ? Number(v) : v;
}

/** Circuits as a nested list (parents before children; a dangling parent is a root). */
export function circuitTree(circuits, label = (c) => c.name || c.id) {
  const ids = new Set(circuits.map((c) => String(c.id)));
  const children = new Map();
  for (const c of circuits) {
    const parent = c.parent_id === null || c.parent_id === undefined || !ids.has(String(c.parent_id)) ? "" : String(c.parent_id);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(c);
  }
  const seen = new Set();
  const branch = (key) => {
    const list = (children.get(key) || []).filter((c) => !seen.has(String(c.id)));
    if (list.length === 0) return null;
    return h("ul", {}, list.map((c) => {
      seen.add(String(c.id));
      return h("li", {}, label(c), branch(String(c.id)));
    }));
  };
  return branch("");
}

export function siteEditor(site, { onSaved, onCancel } = {}) {
  const numericIds = (site?.circuits || []).some((c) => typeof c.id === "number");
  const errors = h("div", { "aria-live": "assertive" });
  const name = text({ name: "name", required: true, maxlength: 100, value: site?.name || "" });
  const enabled = checkbox("Enabled (the balancer manages this site)", site ? site.enabled !== false : true);
  const limitValue = num({ name: "grid_limit", required: true, min: 0, step: "any", value: site?.grid_limit?.value ?? "" });
  const limitUnit = select({ name: "grid_unit" }, [["A", "A per phase"], ["kW", "kW in total"]], site?.grid_limit?.unit || "A");
  const phases = select({ name: "phases" }, [["3", "3"], ["1", "1"]], String(site?.phases ?? 3));
  const voltage = num({ name: "voltage", min: 1, step: "any", value: site?.voltage ?? 230 });
  const base = site?.base_load || {};
  const baseMode = select({ name: "base_mode" }, BASE_MODES, base.mode || "none");
  const baseFixed = num({ name: "base_fixed", min: 0, step: "any", value: base.fixed_a ?? "" });
  const meterStation = text({ name: "meter_station", maxlength: 48, value: base.meter?.station_id || "" });
  const meterEvse = num({ name: "meter_evse", min: 0, step: 1, value: base.meter?.evse_id ?? "" });
  const meterAll = checkbox("The meter is at the grid connection (it measures the chargers too)", Boolean(base.meter?.includes_evs));
  const priorities = h("textarea", {
    name: "token_priorities", rows: 3, spellcheck: "false", autocomplete: "off", class: "token-priorities",
    value: Object.entries(site?.token_priorities || {}).map(([t, p]) => `${t}=${p}`).join("\n"),
  });
  const fixedBox = h("div", { class: "site-base-fixed" }, field("Base load (A per phase)", baseFixed));
  const meterBox = h("div", { class: "grid site-base-meter" },
    field("Meter station", meterStation, "A member station whose meter measures the whole site. Or push it: POST /sites/{id}/base-load."),
    field("Meter EVSE", meterEvse, "0: the station's main meter."),
    h("div", { class: "field" }, meterAll.el));
  const showBase = () => {
    fixedBox.hidden = baseMode.value !== "fixed";
    meterBox.hidden = baseMode.value !== "measured";
  };
  baseMode.addEventListener("change", showBase);
  showBase();

  // ---- circuits: rows of inputs, and the tree they make
  const circuitRows = [];
  const circuitBody = h("tbody");
  const tree = h("div", { class: "circuit-tree", "aria-live": "polite" });
  const memberRows = [];
  const memberBody = h("tbody");

  function circuitValues() {
    return circuitRows.map((r) => ({
      id: idOf(r.id.value, numericIds),
      name: r.name.value.trim(),
      parent_id: idOf(r.parent.value, numericIds),
      limit_a: numberOrNull(r.limit.value),
    }));
  }

  function circuitOptions(exclude) {
    return circuitRows.filter((r) => r !== exclude && r.id.value.trim())
      .map((r) => [r.id.value.trim(), r.name.value.trim() ? `${r.name.value.trim()} (${r.id.value.trim()})` : r.id.value.trim()]);
  }

  /** Redraw the parent and circuit choices (keeping what was chosen) and the tree. */
  function refreshCircuits() {
    circuitRows.forEach((r, i) => {
      const keep = r.parent.value || r.parentWanted;
      replace(r.parent, [["", "(grid connection)"], ...circuitOptions(r)].map(([v, l]) => h("option", { value: v, selected: v === keep }, l)));
      r.parentWanted = null;
      r.label.textContent = `Circuit ${i + 1}`;
    });
    for (const m of memberRows) {
      const keep = m.circuit.value || m.circuitWanted;
      replace(m.circuit, [["", "(grid connection)"], ...circuitOptions(null)].map(([v, l]) => h("option", { value: v, selected: v === keep }, l)));
      m.circuitWanted = null;
    }
    const list = circuitValues().filter((c) => c.id !== null);
    const gridText = `Grid connection: ${limitValue.value || "?"} ${limitUnit.value === "A" ? "A per phase" : "kW"}`;
    replace(tree, h("p", { class: "muted" }, "As drawn:"),
      h("ul", {}, h("li", {}, gridText, circuitTree(list, (c) => `${c.name || c.id}: ${c.limit_a ?? "?"} A`))));
  }

  function addCircuit(c = {}) {
    const n = circuitRows.length + 1;
    const r = {
      label: h("th", { scope: "row" }, `Circuit ${n}`),
      id: text({ maxlength: 40, required: true, value: c.id ?? `c${n}`, "aria-label": `Id of circuit ${n}` }),
      name: text({ maxlength: 100, value: c.name || "", "aria-label": `Name of circuit ${n}` }),
      parent: h("select", { "aria-label": `Parent of circuit ${n}` }),
      limit: num({ min: 0, step: "any", required: true, value: c.limit_a ?? "", "aria-label": `Limit of circuit ${n} (A)` }),
      parentWanted: c.parent_id === null || c.parent_id === undefined ? "" : String(c.parent_id),
    };
    r.remove = h("button", {
      type: "button", class: "small", "aria-label": `Remove circuit ${n}`,
      onclick: () => {
        circuitRows.splice(circuitRows.indexOf(r), 1);
        r.row.remove();
        refreshCircuits();
      },
    }, "Remove");
    r.row = h("tr", {}, r.label, h("td", { "data-label": "Id" }, r.id), h("td", { "data-label": "Name" }, r.name),
      h("td", { "data-label": "Parent" }, r.parent), h("td", { "data-label": "Limit (A)" }, r.limit), h("td", {}, r.remove));
    for (const input of [r.id, r.name, r.limit]) input.addEventListener("input", refreshCircuits);
    r.parent.addEventListener("change", refreshCircuits);
    circuitRows.push(r);
    circuitBody.append(r.row);
  }

  function addMember(m = {}) {
    const n = memberRows.length + 1;
    const r = {
      station: text({ maxlength: 48, required: true, value: m.station_id || "", "aria-label": `Station of member ${n}` }),
      evse: num({ min: 1, step: 1, value: m.evse_id ?? "", placeholder: "all", "aria-label": `EVSE of member ${n} (empty: every EVSE)` }),
      circuit: h("select", { "aria-label": `Circuit of member ${n}` }),
      phases: select({ "aria-label": `Phases of member ${n}` }, [["3", "3"], ["1", "1"]], String(m.phases ?? 3)),
      rotation: select({ "aria-label": `Phase rotation of member ${n}` }, ROTATIONS, m.phase_rotation || "L1L2L3"),
      min: num({ min: 0, step: "any", value: m.min_a ?? 6, "aria-label": `Minimum current of member ${n} (A)` }),
      max: num({ min: 0, step: "any", value: m.max_a ?? 32, "aria-label": `Maximum current of member ${n} (A)` }),
      priority: num({ step: 1, value: m.priority ?? 0, "aria-label": `Priority of member ${n}` }),
      circuitWanted: m.circuit_id === null || m.circuit_id === undefined ? "" : String(m.circuit_id),
    };
    r.remove = h("button", {
      type: "button", class: "small", "aria-label": `Remove member ${n}`,
      onclick: () => {
        memberRows.splice(memberRows.indexOf(r), 1);
        r.row.remove();
      },
    }, "Remove");
    r.row = h("tr", {}, MEMBER_COLUMNS.map(([k, label]) => h("td", { "data-label": label }, r[k])));
    memberRows.push(r);
    memberBody.append(r.row);
  }

  for (const c of site?.circuits || []) addCircuit(c);
  for (const m of site?.members || []) addMember(m);
  refreshCircuits();
  limitValue.addEventListener("input", refreshCircuits);
  limitUnit.addEventListener("change", refreshCircuits);

  function body() {
    const b = {
      name: name.value.trim(),
      enabled: enabled.input.checked,
      grid_limit: { unit: limitUnit.value, value: numberOrNull(limitValue.value) },
      phases: Number(phases.value),
      voltage: numberOrNull(voltage.value),
      base_load: { mode: baseMode.value },
      circuits: circuitValues(),
      members: memberRows.map((r) => ({
        station_id: r.station.value.trim(),
        evse_id: numberOrNull(r.evse.value),
        circuit_id: idOf(r.circuit.value, numericIds),
        phases: Number(r.phases.value),
        phase_rotation: r.rotation.value,
        min_a: numberOrNull(r.min.value),
        max_a: numberOrNull(r.max.value),
        priority: numberOrNull(r.priority.value) ?? 0,
      })),
    };
    if (baseMode.value === "fixed") b.base_load.fixed_a = numberOrNull(baseFixed.value);
    if (baseMode.value === "measured" && meterStation.value.trim()) {
      b.base_load.meter = {
        station_id: meterStation.value.trim(),
        evse_id: numberOrNull(meterEvse.value) ?? 0,
        includes_evs: meterAll.input.checked,
      };
    }
    b.token_priorities = {};
    for (const line of priorities.value.split(/\n+/)) {
      const m = /^\s*(.+?)\s*=\s*(-?\d+)\s*$/.exec(line);
      if (m) b.token_priorities[m[1]] = Number(m[2]);
      else if (line.trim()) b.token_priorities[line.trim()] = NaN; // the server says what is wrong
    }
    return b;
  }

  const save = h("button", { type: "submit", class: "primary" }, site ? "Save site" : "Create site");
  const form = h("form", {
    class: "site-editor", "aria-label": site ? `Edit site ${site.name}` : "New site",
    onsubmit: async (event) => {
      event.preventDefault();
      replace(errors);
      save.disabled = true;
      try {
        const saved = site ? await api.put(`/sites/${seg(site.id)}`, body()) : await api.post("/sites", body());
        toast(site ? `Site ${saved.name} saved.` : `Site ${saved.name} created.`, "ok");
        onSaved?.(saved);
      } catch (err) {
        replace(errors, errorBox(err));
        errors.scrollIntoView?.({ block: "nearest" });
      } finally {
        save.disabled = false;
      }
    },
  },
  h("fieldset", { class: "site-part" }, h("legend", {}, "Site"),
    h("div", { class: "grid" }, field("Name", name), h("div", { class: "field" }, enabled.el))),
  h("fieldset", { class: "site-part" }, h("legend", {}, "Grid connection"),
    h("div", { class: "grid" },
      field("Grid limit", limitValue, "The main breaker's rating per phase, or the contracted power."),
      field("Limit unit", limitUnit),
      field("Phases", phases),
      field("Voltage (V, phase to neutral)", voltage))),
  h("fieldset", { class: "site-part" }, h("legend", {}, "Base load"),
    h("p", { class: "muted" }, "What the building draws besides the chargers: subtracted from the limit."),
    field("Base load mode", baseMode), fixedBox, meterBox),
  h("fieldset", { class: "site-part" }, h("legend", {}, "Circuits"),
    h("p", { class: "muted" }, "Sub-distributions and feeders below the grid connection, each with its own limit per phase."),
    h("div", { class: "table-scroll" }, h("table", { class: "data edit-rows" },
      h("caption", { class: "visually-hidden" }, "Circuits"),
      h("thead", {}, h("tr", {}, ["#", "Id", "Name", "Parent", "Limit (A)", ""].map((c) => h("th", { scope: "col" }, c)))),
      circuitBody)),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => { addCircuit(); refreshCircuits(); } }, "Add circuit")),
    tree),
  h("fieldset", { class: "site-part" }, h("legend", {}, "Members"),
    h("p", { class: "muted" }, "Stations (or single EVSEs) on this site: their circuit, how their phases are wired to the site's, and the current they may get."),
    h("div", { class: "table-scroll" }, h("table", { class: "data edit-rows" },
      h("caption", { class: "visually-hidden" }, "Members"),
      h("thead", {}, h("tr", {}, MEMBER_COLUMNS.map(([, label]) => h("th", { scope: "col" }, label)))),
      memberBody)),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => { addMember(); refreshCircuits(); } }, "Add member")),
    field("Driver priorities", priorities, "One id token per line as TOKEN=priority (e.g. FLEET-7=10): the higher of it and the EVSE's priority counts.")),
  errors,
  h("div", { class: "actions" },
    save,
    onCancel ? h("button", { type: "button", onclick: onCancel }, "Cancel") : null));
  return { el: form, body };
}
