// The live parts of a site's page: its status per phase (limit, allocation, measured
// load, the at-limit badge), the chart of those over time (GET /sites/{id}/series, then
// only what is newer, as the event stream says something changed) and each EVSE's
// allocation with the balancer's reason. Readers here accept the status and series
// the API sends (per-phase objects {L1, L2, L3}); everything shown is text.

import { badge } from "../../components/notice.js";
import { timeChart } from "../../components/chart.js";
import { h, replace, select } from "../../dom.js";
import * as fmt from "../../format.js";
import { href } from "../../router.js";
import { seg } from "../../api.js";

export const PHASES = ["L1", "L2", "L3"];
const KINDS = [
  { key: "limit", label: "Limit", dash: "8 4", width: 2 },
  { key: "allocated", label: "Allocated", dash: "", width: 2.5 },
  { key: "measured", label: "Measured", dash: "2 3", width: 2.5 },
];
const PHASE_COLOURS = { L1: "#a34700", L2: "#1b2430", L3: "#0b5cad" };
const WINDOWS = [["900", "Last 15 minutes"], ["3600", "Last hour"], ["21600", "Last 6 hours"], ["86400", "Last 24 hours"]];

/** {L1, L2, L3} from what the API sends for one quantity: an object per phase (any
 *  case), a list [l1, l2, l3], or a single number (every phase). Missing phases: null. */
export function perPhase(value) {
  const out = { L1: null, L2: null, L3: null };
  if (value === null || value === undefined) return out;
  if (typeof value === "number") return { L1: value, L2: value, L3: value };
  if (Array.isArray(value)) {
    PHASES.forEach((p, i) => { out[p] = value[i] ?? null; });
    return out;
  }
  for (const p of PHASES) {
    const v = value[p] ?? value[p.toLowerCase()];
    out[p] = v === undefined || v === null ? null : Number(v);
  }
  return out;
}

/** The first of `keys` that `obj` has (the API's names: "limit_a" or "limit", ...). */
function pick(obj, ...keys) {
  for (const k of keys) if (obj && obj[k] !== undefined) return obj[k];
  return undefined;
}

export function statusPhases(status) {
  return {
    limit: perPhase(pick(status, "limit_a", "limit", "limits")),
    allocated: perPhase(pick(status, "allocated_a", "allocated", "allocation")),
    measured: perPhase(pick(status, "measured_a", "measured", "measured_load")),
    base: perPhase(pick(status, "base_load_a", "base_load")),
  };
}

const amps = (v) => (v === null || v === undefined || Number.isNaN(v) ? fmt.DASH : `${fmt.number(v, 1)} A`);

/** The status card's content: the at-limit badge and a table phase by phase. */
export function statusView(status, phases = 3) {
  const p = statusPhases(status);
  const shown = phases === 1 ? ["L1"] : PHASES;
  const atLimit = Boolean(status.at_limit);
  return [
    h("p", { class: "site-state" },
      atLimit ? badge("At limit", "badge-at-limit") : badge("Below limit", "badge-below-limit"),
      status.computed_at ? h("small", { class: "muted" }, " computed ",
        h("time", { datetime: status.computed_at, title: fmt.time(status.computed_at) }, fmt.time(status.computed_at)),
        status.trigger ? ` (${status.trigger})` : null) : null),
    h("table", { class: "data site-phases" },
      h("caption", { class: "visually-hidden" }, "Limit, allocation and measured load per phase"),
      h("thead", {}, h("tr", {}, ["Phase", "Limit", "Base load", "Allocated", "Measured", "Headroom"].map((c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
      h("tbody", {}, shown.map((ph) => {
        const room = p.limit[ph] === null || p.allocated[ph] === null ? null : p.limit[ph] - (p.base[ph] || 0) - p.allocated[ph];
        return h("tr", { dataset: { phase: ph } },
          h("th", { scope: "row" }, ph),
          h("td", { class: "num", "data-label": "Limit" }, amps(p.limit[ph])),
          h("td", { class: "num", "data-label": "Base load" }, amps(p.base[ph])),
          h("td", { class: "num", "data-label": "Allocated" }, amps(p.allocated[ph])),
          h("td", { class: "num", "data-label": "Measured" }, amps(p.measured[ph])),
          h("td", { class: "num", "data-label": "Headroom" }, amps(room)));
      }))),
    limitsTable(status.limits || []),
  ];
}

/** Every limit of the site (grid connection, circuits) and how full it is. */
function limitsTable(limits) {
  if (!limits.length) return null;
  return h("details", { class: "site-limits" }, h("summary", {}, `Limits of the site (${limits.length})`),
    h("table", { class: "data" },
      h("caption", { class: "visually-hidden" }, "Limits of the site and their use"),
      h("thead", {}, h("tr", {}, ["Limit", "Of", "Reserved", "Allocated", "Full"].map((c, i) => h("th", { scope: "col", class: i && i < 4 ? "num" : null }, c)))),
      h("tbody", {}, limits.map((l) => h("tr", {},
        h("td", { "data-label": "Limit" }, fmt.text(l.name)),
        h("td", { class: "num", "data-label": "Of" }, amps(l.limit_a)),
        h("td", { class: "num", "data-label": "Reserved" }, amps(l.reserved_a)),
        h("td", { class: "num", "data-label": "Allocated" }, amps(l.allocated_a)),
        h("td", { "data-label": "Full" }, l.binding ? badge("At limit", "badge-at-limit") : "no"))))));
}

/** A reason as text: the API's sentence, or the parts of a structured one. */
export function reasonText(reason) {
  if (reason === null || reason === undefined || reason === "") return fmt.DASH;
  if (typeof reason === "string") return reason;
  if (Array.isArray(reason)) return reason.map(reasonText).join("; ");
  if (typeof reason === "object") {
    const main = reason.text || reason.message || reason.summary || reason.code;
    if (main) return String(main);
    return Object.entries(reason).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
  }
  return String(reason);
}

function evseAmps(value) {
  if (value === null || value === undefined) return fmt.DASH;
  if (typeof value === "number") return amps(value);
  const p = perPhase(value);
  return PHASES.filter((ph) => p[ph] !== null).map((ph) => `${ph} ${fmt.number(p[ph], 1)}`).join(" · ") + " A";
}

/** Each EVSE's allocation and why, as a table. */
export function evseTable(status) {
  const evses = [...(status.evses || [])].sort((a, b) => String(a.station_id).localeCompare(String(b.station_id))
    || (a.evse_id ?? 0) - (b.evse_id ?? 0));
  return h("table", { class: "data site-evses" },
    h("caption", { class: "visually-hidden" }, "Allocation per EVSE"),
    h("thead", {}, h("tr", {}, ["Station", "EVSE", "State", "Allocated", "Measured", "Phases", "Transaction", "Why"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, evses.length === 0
      ? h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No member EVSEs yet."))
      : evses.map((e) => h("tr", { dataset: { station: e.station_id, evse: String(e.evse_id ?? "") } },
        h("td", { "data-label": "Station" }, h("a", { href: href(`/stations/${seg(e.station_id)}`, { tab: "charging" }) }, e.station_id)),
        h("td", { "data-label": "EVSE" }, e.evse_id === null || e.evse_id === undefined ? fmt.DASH : String(e.evse_id)),
        h("td", { "data-label": "State" }, badge(e.state || "idle")),
        h("td", { class: "num", "data-label": "Allocated" }, evseAmps(pick(e, "allocated_a", "allocated"))),
        h("td", { class: "num", "data-label": "Measured" }, evseAmps(pick(e, "measured_a", "measured"))),
        h("td", { "data-label": "Phases" }, Array.isArray(e.phases) && e.phases.length ? e.phases.join(" ") : fmt.DASH),
        h("td", { "data-label": "Transaction" }, e.transaction_id ? h("code", {}, e.transaction_id) : fmt.DASH),
        h("td", { class: "site-reason", "data-label": "Why" }, reasonText(pick(e, "reason", "explanation")),
          e.limited_by ? h("small", { class: "muted" }, ` (limited by ${e.limited_by})`) : null)))));
}

/** One series sample as a chart point {t, limit_L1, ..., measured_L3}. */
export function chartPoint(sample) {
  const t = pick(sample, "t", "at", "time", "timestamp", "computed_at");
  const point = { t };
  const p = statusPhases(sample);
  for (const kind of KINDS) for (const ph of PHASES) point[`${kind.key}_${ph}`] = p[kind.key][ph];
  return point;
}

/** The samples of a series answer ({points: [...]}, {items: [...]} or a list). */
export function seriesSamples(answer) {
  if (Array.isArray(answer)) return answer;
  return answer?.points || answer?.items || answer?.series || [];
}

function chartSeries(phases, shown) {
  const list = [];
  for (const kind of KINDS) {
    for (const ph of phases) {
      if (shown && shown !== ph) continue;
      list.push({
        key: `${kind.key}_${ph}`, label: `${kind.label} ${ph}`, unit: "A", axis: "left",
        color: PHASE_COLOURS[ph], dash: kind.dash, width: kind.width, digits: 1, min: 0,
      });
    }
  }
  return list;
}

/**
 * The live chart: load(sinceIso) -> series answer. Returns {el, refresh(), destroy()}:
 * refresh() fetches what is newer than the last point and appends it.
 */
export function siteChart({ load, phases = 3 }) {
  const phaseNames = phases === 1 ? ["L1"] : PHASES;
  const win = select({ "aria-label": "Time window" }, WINDOWS, "3600");
  const which = select({ "aria-label": "Phases shown" },
    [["", "All phases"], ...phaseNames.map((p) => [p, `Phase ${p}`])], "");
  const holder = h("div", { class: "site-chart" });
  const note = h("p", { class: "muted tchart-note", "aria-live": "polite" }, "Loading…");
  let chart = null;
  let points = [];
  let last = null; // ISO time of the newest sample (the next `since`)
  let seq = 0;

  function build() {
    chart?.destroy();
    chart = timeChart({
      label: "Site limit, allocation and measured load per phase",
      series: chartSeries(phaseNames, which.value || null),
      points,
      empty: "No samples yet.",
    });
    replace(holder, chart.el);
  }

  function trim() {
    const from = Date.now() - Number(win.value) * 1000;
    points = points.filter((p) => new Date(p.t).getTime() >= from);
  }

  async function fetchSince(since) {
    const mine = ++seq;
    const answer = await load(since);
    if (mine !== seq) return null;
    const samples = seriesSamples(answer).map(chartPoint).filter((p) => p.t);
    if (samples.length) last = samples[samples.length - 1].t;
    return samples;
  }

  async function reload() {
    last = null;
    points = [];
    const since = new Date(Date.now() - Number(win.value) * 1000).toISOString();
    try {
      const samples = await fetchSince(since);
      if (samples === null) return;
      points = samples;
      build();
      note.textContent = `${points.length} sample(s); live.`;
    } catch (err) {
      note.textContent = `The series could not be loaded: ${err.detail || err.message}`;
    }
  }

  async function refresh() {
    if (!chart) return reload();
    try {
      const samples = await fetchSince(last || new Date(Date.now() - Number(win.value) * 1000).toISOString());
      if (!samples || samples.length === 0) return undefined;
      const byTime = new Map(points.map((p) => [String(new Date(p.t).getTime()), p]));
      for (const s of samples) byTime.set(String(new Date(s.t).getTime()), s);
      points = [...byTime.values()].sort((a, b) => new Date(a.t) - new Date(b.t));
      trim();
      chart.update(points);
      note.textContent = `${points.length} sample(s); live.`;
    } catch {
      // The next event or tick tries again.
    }
    return undefined;
  }

  win.addEventListener("change", reload);
  which.addEventListener("change", build);
  const el = h("div", {},
    h("div", { class: "toolbar" },
      h("div", { class: "field" }, h("label", {}, "Window ", win)),
      h("div", { class: "field" }, h("label", {}, "Show ", which))),
    holder, note);
  return { el, reload, refresh, destroy: () => chart?.destroy(), get points() { return points; } };
}
