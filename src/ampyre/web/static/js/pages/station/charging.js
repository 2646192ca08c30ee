// The station page's Charging tab (smart charging): the charging profiles Ampyre
// believes the station has installed (who put each there, its purpose and stack level,
// whether the station confirmed it); for operators: set a profile, clear profiles and
// (2.x) read them back from the station; the composite schedule of an EVSE, computed and
// reported; and for 2.x the external charging limits and the EVs' charging needs the
// station reported. Everything the station sent is shown as text.

import { api } from "../../api.js";
import { runCommand } from "../../components/command.js";
import { confirmDialog, formDialog } from "../../components/dialog.js";
import { badge, errorBox } from "../../components/notice.js";
import { field, h, replace, select } from "../../dom.js";
import * as fmt from "../../format.js";
import { href } from "../../router.js";
import { can } from "../../session.js";
import { compositeSection } from "./composite.js";
import { setProfileDialog } from "./profile-form.js";

const PURPOSES = ["ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile", "ChargingStationExternalConstraints"];
const EVENTS = ["transaction.started", "transaction.ended", "charging_limit.changed", "charging_profile.changed", "ev_charging_needs.received"];

const when = (iso) => (iso ? h("time", { datetime: iso, title: fmt.time(iso) }, fmt.ago(iso)) : fmt.DASH);

/** An installed profile's fields, whether the API nests the profile or not. */
export function profileOf(row) {
  return row.profile || row;
}

/** The limits of a profile's first schedule as short text ("16 A from 0 s, 10 A from 1 h"). */
export function scheduleText(profile) {
  const schedules = profile.schedules || [];
  if (schedules.length === 0) return fmt.DASH;
  return schedules.map((s) => {
    const periods = (s.periods || []).slice(0, 4).map((p) => {
      const from = p.start_period >= 3600 ? `${fmt.number(p.start_period / 3600, 2)} h` : p.start_period >= 60 ? `${fmt.number(p.start_period / 60, 1)} min` : `${p.start_period} s`;
      const limit = p.limit === null || p.limit === undefined ? "no limit" : `${fmt.number(p.limit, 1)} ${s.rate_unit}`;
      return p.start_period ? `${limit} from ${from}` : limit;
    });
    const more = (s.periods || []).length > 4 ? ` (+${s.periods.length - 4} more)` : "";
    return periods.join(", ") + more;
  }).join(" | ");
}

function confirmedCell(row) {
  if (row.confirmed_at) return h("span", {}, badge("confirmed", "badge-ok"), " ", h("small", { class: "muted" }, when(row.confirmed_at)));
  if (row.confirmed === true) return badge("confirmed", "badge-ok");
  return badge("not yet", "badge-unconfirmed");
}

function profilesTable(rows, onClear) {
  return h("table", { class: "data charging-profiles" },
    h("caption", { class: "visually-hidden" }, "Installed charging profiles"),
    h("thead", {}, h("tr", {}, ["Profile", "EVSE", "Purpose", "Stack level", "Kind", "Limits", "Source", "Confirmed", onClear ? "Actions" : null]
      .filter(Boolean).map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.length === 0
      ? h("tr", {}, h("td", { colspan: onClear ? 9 : 8, class: "empty" }, "No charging profiles installed (as far as Ampyre knows)."))
      : rows.map((row) => {
        const p = profileOf(row);
        return h("tr", { dataset: { profile: String(p.id) } },
          h("td", { "data-label": "Profile" }, h("details", { class: "profile-json" },
            h("summary", {}, `#${p.id}`),
            h("pre", { tabindex: "0", "aria-label": `Profile ${p.id} as JSON` }, fmt.json(p)))),
          h("td", { "data-label": "EVSE" }, row.evse_id === 0 ? "0 (station)" : fmt.text(row.evse_id)),
          h("td", { "data-label": "Purpose" }, fmt.text(p.purpose),
            p.transaction_id ? h("small", { class: "muted" }, " tx ", h("code", {}, p.transaction_id)) : null),
          h("td", { class: "num", "data-label": "Stack level" }, fmt.text(p.stack_level)),
          h("td", { "data-label": "Kind" }, fmt.text(p.kind), p.recurrency ? ` (${p.recurrency})` : ""),
          h("td", { "data-label": "Limits" }, scheduleText(p),
            p.valid_to ? h("small", { class: "muted" }, ` until ${fmt.time(p.valid_to)}`) : null),
          h("td", { "data-label": "Source" }, badge(row.source || "unknown", "badge-source"),
            row.limit_source ? h("small", { class: "muted" }, ` ${row.limit_source}`) : null),
          h("td", { "data-label": "Confirmed" }, confirmedCell(row)),
          onClear ? h("td", { "data-label": "Actions" }, h("button", {
            type: "button", class: "small", "aria-label": `Clear profile ${p.id}`,
            onclick: () => onClear({ profile_id: p.id }, `profile ${p.id}`),
          }, "Clear")) : null);
      })));
}

/** A list of the API's records as a plain table of their fields (with a JSON fallback). */
function recordsTable(caption, items, columns, empty) {
  return h("table", { class: "data" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, [...columns.map(([label]) => label), "Details"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, items.length === 0
      ? h("tr", {}, h("td", { colspan: columns.length + 1, class: "empty" }, empty))
      : items.map((item, i) => h("tr", {},
        columns.map(([label, render]) => h("td", { "data-label": label }, render(item) ?? fmt.DASH)),
        h("td", { "data-label": "Details" }, h("details", {}, h("summary", {}, "JSON"),
          h("pre", { tabindex: "0", "aria-label": `${caption} ${i + 1} as JSON` }, fmt.json(item))))))));
}

const itemsOf = (answer) => (Array.isArray(answer) ? answer : answer?.items || []);
const numberUnit = (v, unit) => (v === null || v === undefined ? fmt.DASH : `${fmt.number(v, 1)} ${unit}`);

function limitsSection(env, scope) {
  const box = h("div");
  async function load() {
    try {
      const items = itemsOf(await api.get(`${env.path}/charging-limits`));
      if (!scope.alive) return;
      replace(box, recordsTable("External charging limits", items, [
        ["EVSE", (l) => (l.evse_id === null || l.evse_id === undefined ? "station" : String(l.evse_id))],
        ["Source", (l) => fmt.text(l.source ?? l.charging_limit_source)],
        ["Grid critical", (l) => {
          const critical = l.is_grid_critical ?? l.grid_critical;
          return critical === null || critical === undefined ? fmt.DASH : critical ? "yes" : "no";
        }],
        ["Limits", (l) => (l.schedules?.length ? scheduleText(l) : fmt.DASH)],
        ["State", (l) => (l.active === false || l.cleared_at
          ? h("span", {}, badge("cleared"), " ", h("small", { class: "muted" }, when(l.cleared_at)))
          : badge("active"))],
        ["Reported", (l) => when(l.received_at)],
      ], "The station reported no external limits (NotifyChargingLimit)."));
    } catch (err) {
      replace(box, errorBox(err));
    }
  }
  load();
  return { el: h("section", { class: "charging-part" }, h("h3", {}, "External charging limits"),
    h("p", { class: "muted" }, "Limits set on the station by others (an energy management system, the grid operator), as it reported them."), box), load };
}

function needsSection(env, scope) {
  const box = h("div");
  async function load() {
    try {
      const items = itemsOf(await api.get(`${env.path}/ev-charging-needs`));
      if (!scope.alive) return;
      // Each item: {evse_id, needs: {...} | null, ev_schedule: {...} | null}.
      const needsOf = (n) => n.needs || {};
      replace(box, recordsTable("EV charging needs", items, [
        ["EVSE", (n) => fmt.text(n.evse_id)],
        ["Departure", (n) => (needsOf(n).departure_time ? fmt.time(needsOf(n).departure_time) : fmt.DASH)],
        ["Energy", (n) => numberUnit(needsOf(n).energy_amount_wh, "Wh")],
        ["Current", (n) => `${numberUnit(needsOf(n).ev_min_current, "A")} – ${numberUnit(needsOf(n).ev_max_current, "A")}`],
        ["Transfer mode", (n) => fmt.text(needsOf(n).requested_energy_transfer)],
        ["Answered", (n) => (needsOf(n).status ? [badge(needsOf(n).status), needsOf(n).detail ? h("small", { class: "muted" }, ` ${needsOf(n).detail}`) : null] : fmt.DASH)],
        ["Schedule from the EV", (n) => (n.ev_schedule ? [scheduleText({ schedules: [n.ev_schedule.schedule] }), h("small", { class: "muted" }, " ", when(n.ev_schedule.received_at))] : fmt.DASH)],
        ["Reported", (n) => when(needsOf(n).received_at)],
      ], "No EV reported its needs (NotifyEVChargingNeeds, ISO 15118)."));
    } catch (err) {
      replace(box, errorBox(err));
    }
  }
  load();
  return { el: h("section", { class: "charging-part" }, h("h3", {}, "EV charging needs"),
    h("p", { class: "muted" }, "Departure time, energy and current limits an ISO 15118 car sent, latest per EVSE."), box), load };
}

export function chargingTab(panel, env) {
  const station = env.station();
  const v16 = station.ocpp_version === "ocpp1.6";
  const evses = [...new Set([0, ...(station.evses || []).map((e) => e.evse_id)])].sort((a, b) => a - b);
  const tableBox = h("div", { class: "table-scroll" });
  const errors = h("div");
  let rows = [];
  let seq = 0;

  async function load() {
    const mine = ++seq;
    try {
      const answer = await api.get(`${env.path}/charging-profiles`);
      if (mine !== seq || !env.scope.alive) return;
      rows = itemsOf(answer);
      replace(errors);
      replace(tableBox, profilesTable(rows, can("operator") ? clear : null));
    } catch (err) {
      if (mine === seq) replace(errors, errorBox(err));
    }
  }

  async function clear(filter, what) {
    const ok = await confirmDialog(`Clear ${what}?`,
      `Ask ${env.id} to remove ${what}. Ampyre forgets what the station confirms it removed.`,
      { confirmLabel: "Clear", danger: true });
    if (!ok) return;
    await runCommand("Clear charging profiles", () => api.post(`${env.path}/charging-profiles/clear`, filter));
    load();
  }

  async function clearSome() {
    const filter = await formDialog("Clear charging profiles", () => [
      h("p", {}, "Every profile that matches all the filters given is removed; none given: every profile but the station's external constraints."),
      field("Profile id", h("input", { name: "profile_id", type: "number", min: 1, step: 1, autocomplete: "off" })),
      field("EVSE", select({ name: "evse_id" }, [["", "any"], ...evses.map((e) => [String(e), e === 0 ? "0: the station" : `EVSE ${e}`])], "")),
      field("Purpose", select({ name: "purpose" }, [["", "any"], ...PURPOSES.slice(0, 3).map((p) => [p, p])], "")),
      field("Stack level", h("input", { name: "stack_level", type: "number", min: 0, step: 1, autocomplete: "off" })),
    ], async (form) => {
      const f = form.elements;
      const body = {};
      if (f.profile_id.value) body.profile_id = Number(f.profile_id.value);
      if (f.evse_id.value !== "") body.evse_id = Number(f.evse_id.value);
      if (f.purpose.value) body.purpose = f.purpose.value;
      if (f.stack_level.value !== "") body.stack_level = Number(f.stack_level.value);
      return body;
    }, { submitLabel: "Clear", danger: true });
    if (!filter) return;
    await runCommand("Clear charging profiles", () => api.post(`${env.path}/charging-profiles/clear`, filter));
    load();
  }

  async function setProfile() {
    const used = rows.map((r) => Number(profileOf(r).id)).filter(Number.isFinite);
    const answer = await setProfileDialog(env, { evses, nextId: used.length ? Math.max(...used) + 1 : 1 });
    if (answer) load();
  }

  async function refreshFromStation() {
    const answer = await runCommand("Read profiles from the station", () => api.post(`${env.path}/charging-profiles/refresh`));
    if (answer !== undefined) {
      load();
      // The reports arrive after the answer: look again shortly.
      setTimeout(() => { if (env.scope.alive) load(); }, 2000);
    }
  }

  const actions = can("operator") ? h("div", { class: "actions" },
    h("button", { type: "button", class: "primary", onclick: setProfile }, "Set a profile"),
    h("button", { type: "button", onclick: clearSome }, "Clear profiles…"),
    v16 ? null : h("button", { type: "button", onclick: refreshFromStation }, "Read from the station"))
    : null;

  const parts = [
    h("h2", {}, "Charging"),
    h("section", { class: "charging-part" },
      h("h3", {}, "Installed profiles"),
      h("p", { class: "muted" }, "What Ampyre believes the station has installed: sent by an operator, by the site balancer, with a remote start, or reported by the station. ",
        h("a", { href: href("/sites") }, "Sites"), " manage profiles for a whole site."),
      actions, errors, tableBox),
    compositeSection(env, evses, env.scope),
  ];
  let limits = null;
  let needs = null;
  if (!v16) {
    limits = limitsSection(env, env.scope);
    needs = needsSection(env, env.scope);
    parts.push(limits.el, needs.el);
  }
  panel.append(...parts);
  load();

  let timer = null;
  env.scope.onCleanup(() => clearTimeout(timer));
  const soon = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      if (!env.scope.alive) return;
      load();
      limits?.load();
      needs?.load();
    }, 1000);
  };
  for (const type of EVENTS) {
    env.scope.live(type, (event) => {
      if (event?.station_id === env.id) soon();
    });
  }
  env.scope.live("reset", soon);
}

