// The composite schedule of one EVSE: what Ampyre computes from the profiles it
// believes are installed, and (on request) what the station reports with
// GetCompositeSchedule, side by side, with the differences marked; a step chart of both.

import { api } from "../../api.js";
import { failureBody } from "../../components/command.js";
import { timeChart } from "../../components/chart.js";
import { badge } from "../../components/notice.js";
import { checkbox } from "../../components/forms.js";
import { field, h, replace, select } from "../../dom.js";
import * as fmt from "../../format.js";

const periodStart = (p) => Number(p.start ?? p.start_period ?? 0);

/** A period's limit as text: "16 A", per phase when the phases differ, "no limit". */
function limitText(p, unit) {
  if (!p) return fmt.DASH;
  if (p.limit === null || p.limit === undefined) return "no limit";
  const u = unit || "";
  const base = `${fmt.number(p.limit, 1)} ${u}`.trim();
  const l2 = p.limit_l2 ?? null;
  const l3 = p.limit_l3 ?? null;
  const phases = p.number_phases ? ` · ${p.number_phases} phase(s)` : "";
  if (l2 !== null || l3 !== null) return `L1 ${fmt.number(p.limit, 1)} / L2 ${fmt.number(l2 ?? p.limit, 1)} / L3 ${fmt.number(l3 ?? p.limit, 1)} ${u}${phases}`;
  return base + phases;
}

function sameLimit(a, b) {
  if (!a || !b) return a === b;
  const eq = (x, y) => (x === null || x === undefined ? null : Number(x)) === (y === null || y === undefined ? null : Number(y));
  return eq(a.limit, b.limit) && eq(a.limit_l2, b.limit_l2) && eq(a.limit_l3, b.limit_l3);
}

/** The period in force `offset` seconds after the start. */
function at(periods, offset) {
  let found = null;
  for (const p of periods) if (periodStart(p) <= offset) found = p;
  return found;
}

function schedulePeriods(s) {
  return [...(s?.periods || s?.charging_schedule_periods || [])].sort((a, b) => periodStart(a) - periodStart(b));
}

function offsetText(seconds, start) {
  const s = Number(seconds);
  const rel = s < 3600 ? `+${fmt.number(s / 60, 1)} min` : `+${fmt.number(s / 3600, 2)} h`;
  if (!start) return rel;
  const t = new Date(new Date(start).getTime() + s * 1000).toISOString();
  return [h("time", { datetime: t, title: fmt.time(t) }, new Date(t).toLocaleTimeString()), h("small", { class: "muted" }, ` ${rel}`)];
}

/** The comparison table: every period boundary of either schedule, both limits. */
export function comparisonTable(answer) {
  const computed = answer.computed || null;
  const reported = answer.reported || null;
  const cp = schedulePeriods(computed);
  const rp = schedulePeriods(reported);
  const starts = [...new Set([...cp, ...rp].map(periodStart))].sort((a, b) => a - b);
  const unit = computed?.rate_unit || reported?.rate_unit;
  const start = computed?.start || reported?.start;
  return h("table", { class: "data composite-table" },
    h("caption", { class: "visually-hidden" }, "Composite schedule, computed and reported"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "From"),
      h("th", { scope: "col" }, "Computed by Ampyre"),
      reported ? [h("th", { scope: "col" }, "Reported by the station"), h("th", { scope: "col" }, "Same?")] : null)),
    h("tbody", {}, starts.length === 0
      ? h("tr", {}, h("td", { colspan: reported ? 4 : 2, class: "empty" }, "No limit applies: no profile is installed for this EVSE."))
      : starts.map((s) => {
        const c = at(cp, s);
        const r = at(rp, s);
        // As the server compares: where Ampyre knows of no limit, the station's is no difference.
        const differs = Boolean(reported && c && c.limit !== null && c.limit !== undefined && !sameLimit(c, r));
        return h("tr", { class: differs ? "differs" : null },
          h("td", { "data-label": "From" }, offsetText(s, start)),
          h("td", { "data-label": "Computed" }, limitText(c, computed?.rate_unit || unit)),
          reported ? h("td", { "data-label": "Reported" }, limitText(r, reported.rate_unit || unit)) : null,
          reported ? h("td", { "data-label": "Same?" }, differs ? badge("differs", "badge-differs") : badge("same", "badge-ok")) : null);
      })));
}

/** Step points for the chart: each boundary twice (old value, then new). */
function stepPoints(answer) {
  const start = new Date(answer.computed?.start || answer.reported?.start || Date.now()).getTime();
  const duration = Number(answer.computed?.duration || answer.reported?.duration || 3600);
  const series = { computed: schedulePeriods(answer.computed), reported: schedulePeriods(answer.reported) };
  const bounds = [...new Set([0, ...series.computed.map(periodStart), ...series.reported.map(periodStart), duration])]
    .filter((s) => s <= duration).sort((a, b) => a - b);
  const value = (list, s) => {
    const p = at(list, s);
    return p && p.limit !== null && p.limit !== undefined ? Number(p.limit) : null;
  };
  const points = [];
  bounds.forEach((s, i) => {
    const t = start + s * 1000;
    if (i > 0) points.push({ t, computed: value(series.computed, bounds[i - 1]), reported: answer.reported ? value(series.reported, bounds[i - 1]) : null });
    if (s < duration) points.push({ t, computed: value(series.computed, s), reported: answer.reported ? value(series.reported, s) : null });
  });
  return points;
}

/** The differences the server found: [{start, computed, reported}] (limits, null: none). */
function differencesList(differences, unit, start) {
  if (!differences || differences.length === 0) return null;
  const limit = (v) => (v === null || v === undefined ? "no limit" : `${fmt.number(v, 1)} ${unit}`);
  return h("ul", { class: "composite-differences" }, differences.map((d) => h("li", {},
    typeof d === "string" ? d : ["From ", offsetText(d.start ?? 0, start), `: Ampyre computes ${limit(d.computed)}, the station reports ${limit(d.reported)}.`])));
}

export function compositeSection(env, evses, scope) {
  const evse = select({ name: "evse_id" }, evses.length ? evses.map((e) => [String(e), e === 0 ? "0: the station" : `EVSE ${e}`]) : [["1", "EVSE 1"]], String(evses.find((e) => e > 0) ?? evses[0] ?? 1));
  const duration = h("input", { name: "duration", type: "number", min: 60, max: 604800, step: 60, value: "3600", required: true, autocomplete: "off" });
  const unit = select({ name: "rate_unit" }, [["A", "A"], ["W", "W"]], "A");
  const ask = checkbox("Ask the station as well (GetCompositeSchedule)", true);
  const out = h("div", { "aria-live": "polite" });
  let chart = null;
  scope.onCleanup(() => chart?.destroy());
  const submit = h("button", { type: "submit" }, "Show composite schedule");
  const form = h("form", {
    class: "inline-form", "aria-label": "Composite schedule",
    onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      replace(out, h("p", { class: "muted" }, ask.input.checked ? "Computing and asking the station…" : "Computing…"));
      try {
        const answer = await api.get(`${env.path}/composite-schedule`, {
          evse_id: evse.value, duration: duration.value, rate_unit: unit.value, ask_station: ask.input.checked,
        });
        if (!scope.alive) return;
        chart?.destroy();
        chart = timeChart({
          label: "Composite schedule",
          series: [
            { key: "computed", label: "Computed", unit: unit.value, axis: "left", color: "#0b5cad", dash: "", digits: 1, min: 0 },
            { key: "reported", label: "Reported", unit: unit.value, axis: "left", color: "#a34700", dash: "6 3", digits: 1, min: 0 },
          ],
          points: stepPoints(answer),
          empty: "No limit applies.",
        });
        const asked = answer.status && answer.status !== "not_asked";
        const verdict = answer.reported
          ? (answer.matches ? badge("Matches the station", "badge-ok") : badge("Differs from the station", "badge-differs"))
          : h("span", { class: "muted" }, asked ? "The station reported no schedule." : "Computed by Ampyre only (the station was not asked).");
        replace(out,
          h("p", { class: "composite-verdict", role: "status" }, verdict,
            asked ? h("span", {}, " Station's answer: ", badge(answer.status)) : null),
          differencesList(answer.differences, unit.value, answer.computed?.start),
          h("div", { class: "table-scroll" }, comparisonTable(answer)),
          chart.el);
      } catch (err) {
        replace(out, failureBody(err));
      } finally {
        submit.disabled = false;
      }
    },
  }, field("EVSE", evse), field("Duration (s)", duration), field("Unit", unit), h("div", { class: "field" }, ask.el), submit);
  return h("section", { class: "charging-part" }, h("h3", {}, "Composite schedule"),
    h("p", { class: "muted" }, "The limit the EVSE works to: every installed profile merged as the spec says (stack levels, purposes, the station maximum)."),
    form, out);
}
