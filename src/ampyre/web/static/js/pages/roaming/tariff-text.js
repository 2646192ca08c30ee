// Tariffs in words (OCPI 2.2.1 mod_tariffs): "€0.25/kWh (21 % VAT, per 1 Wh)", the
// restrictions of an element ("Mon–Fri 08:00–18:00, from 10 kWh"), a whole tariff as a
// list of its elements. Used by the tariff list and pages, and for received tariffs.

import { h } from "../../dom.js";
import * as fmt from "../../format.js";
import { money, num } from "./common.js";

export const DIMENSIONS = ["ENERGY", "TIME", "PARKING_TIME", "FLAT"];
export const DIMENSION_NAMES = { ENERGY: "Energy", TIME: "Charging time", PARKING_TIME: "Parking time", FLAT: "Flat fee" };
const PER = { ENERGY: "/kWh", TIME: "/h", PARKING_TIME: "/h parking", FLAT: " per session" };
export const DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
const DAY_SHORT = { MONDAY: "Mon", TUESDAY: "Tue", WEDNESDAY: "Wed", THURSDAY: "Thu", FRIDAY: "Fri", SATURDAY: "Sat", SUNDAY: "Sun" };

/** One price component: "€0.25/kWh (21 % VAT, billed per 1000 Wh)". */
export function componentText(pc, currency) {
  const type = String(pc?.type ?? "?");
  const extra = [];
  if (num(pc?.vat) !== null) extra.push(`${num(pc.vat)} % VAT`);
  const step = num(pc?.step_size);
  if (step !== null && step > 1 && type !== "FLAT") extra.push(`billed per ${step} ${type === "ENERGY" ? "Wh" : "s"}`);
  return `${money(pc?.price, currency)}${PER[type] || ` (${type})`}${extra.length ? ` (${extra.join(", ")})` : ""}`;
}

function days(list) {
  const idx = list.map((d) => DAYS.indexOf(d)).filter((i) => i >= 0).sort((a, b) => a - b);
  if (idx.length === 7) return "every day";
  // Runs of consecutive days as "Mon–Fri".
  const runs = [];
  for (const i of idx) {
    const last = runs[runs.length - 1];
    if (last && i === last[1] + 1) last[1] = i;
    else runs.push([i, i]);
  }
  return runs.map(([a, b]) => (a === b ? DAY_SHORT[DAYS[a]] : `${DAY_SHORT[DAYS[a]]}–${DAY_SHORT[DAYS[b]]}`)).join(", ");
}

/** The restrictions of an element in words, or "always" when it has none. */
export function restrictionsText(r) {
  if (!r || typeof r !== "object") return "always";
  const parts = [];
  if (Array.isArray(r.day_of_week) && r.day_of_week.length) parts.push(days(r.day_of_week));
  if (r.start_time || r.end_time) parts.push(`${r.start_time || "00:00"}–${r.end_time || "24:00"}`);
  if (r.start_date || r.end_date) parts.push(`dates ${r.start_date || "…"} to ${r.end_date || "…"}`);
  const range = (lo, hi, unit, name) => {
    if (num(lo) !== null && num(hi) !== null) parts.push(`${name} ${num(lo)}–${num(hi)} ${unit}`);
    else if (num(lo) !== null) parts.push(`${name} from ${num(lo)} ${unit}`);
    else if (num(hi) !== null) parts.push(`${name} below ${num(hi)} ${unit}`);
  };
  range(r.min_kwh, r.max_kwh, "kWh", "energy");
  range(r.min_current, r.max_current, "A", "current");
  range(r.min_power, r.max_power, "kW", "power");
  const minutes = (s) => (num(s) === null ? null : Math.round(num(s) / 60));
  range(minutes(r.min_duration), minutes(r.max_duration), "min", "duration");
  if (r.reservation) parts.push(r.reservation === "RESERVATION_EXPIRES" ? "expired reservations" : "reservations");
  return parts.length ? parts.join(", ") : "always";
}

/** A tariff's elements as a list: the components of each, then when it applies. */
export function elementsView(tariff) {
  const elements = Array.isArray(tariff?.elements) ? tariff.elements : [];
  if (elements.length === 0) return h("p", { class: "muted" }, "No elements.");
  return h("ol", { class: "tariff-elements" }, elements.map((e) => h("li", {},
    (e.price_components || []).map((pc) => componentText(pc, tariff.currency)).join(" + ") || fmt.DASH,
    h("span", { class: "muted" }, ` — ${restrictionsText(e.restrictions)}`))));
}

/** A one-line summary of a tariff's prices for lists. */
export function tariffSummary(tariff) {
  const elements = Array.isArray(tariff?.elements) ? tariff.elements : [];
  const parts = [];
  for (const e of elements) {
    for (const pc of e.price_components || []) {
      const text = componentText(pc, tariff.currency);
      const when = restrictionsText(e.restrictions);
      parts.push(when === "always" ? text : `${text} (${when})`);
    }
  }
  return parts.length ? parts.join("; ") : fmt.DASH;
}
