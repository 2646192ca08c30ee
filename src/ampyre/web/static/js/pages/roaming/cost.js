// Cost breakdowns: what a priced session (the tariff preview, a transaction's cost), a
// CDR or an OCPI session cost, per dimension (fixed, energy, time, parking,
// reservation), and the charging periods that justify it (OCPI mod_cdrs
// ChargingPeriod: a start, the tariff used, the volume per dimension; the preview and
// Ampyre's own pricing add each period's end and cost).

import { h } from "../../dom.js";
import * as fmt from "../../format.js";
import { simpleTable } from "../security.js";
import { hours, money, num, priceText, quantity, when } from "./common.js";

// OCPI mod_cdrs CdrDimensionType: the unit of each volume.
const UNITS = {
  ENERGY: "kWh", MAX_CURRENT: "A", MIN_CURRENT: "A", MAX_POWER: "kW", MIN_POWER: "kW",
  PARKING_TIME: "h", RESERVATION_TIME: "h", TIME: "h", CURRENT: "A", POWER: "kW",
  STATE_OF_CHARGE: "%", ENERGY_EXPORT: "kWh", ENERGY_IMPORT: "kWh",
};
const DIMENSION_LABELS = {
  ENERGY: "energy", TIME: "charging time", PARKING_TIME: "parking time", RESERVATION_TIME: "reservation",
  MAX_CURRENT: "max current", MIN_CURRENT: "min current", MAX_POWER: "max power", MIN_POWER: "min power",
};

/** One dimension of a period: "energy 1.5 kWh" (times also as minutes). */
export function dimensionText(d) {
  const type = String(d?.type ?? "?");
  const unit = UNITS[type] || "";
  const label = DIMENSION_LABELS[type] || type;
  const v = num(d?.volume);
  if (v === null) return `${label} ${fmt.DASH}`;
  if (unit === "h") return `${label} ${quantity(v, "h", 4)} (${Math.round(v * 60)} min)`;
  return `${label} ${quantity(v, unit, 4)}`;
}

/**
 * The totals of a priced object (PricedSessionOut, an OCPI CDR or Session) as a
 * definition list: total first, then each dimension's cost with its volume.
 */
export function costBreakdown(o, currency) {
  const cur = currency || o?.currency;
  const row = (label, price, volume) => (price || volume !== undefined ? [
    h("dt", {}, label),
    h("dd", {}, price ? priceText(price, cur) : fmt.DASH, volume !== undefined && volume !== null
      ? h("span", { class: "muted" }, " · ", volume) : null),
  ] : null);
  const hasNum = (v) => num(v) !== null;
  return h("dl", { class: "props cost-breakdown" },
    h("dt", {}, "Total"), h("dd", { class: "cost-total" }, o?.total_cost ? priceText(o.total_cost, cur) : fmt.DASH),
    o?.price_limit ? [h("dt", {}, "Price limit"), h("dd", {}, `the tariff's ${String(o.price_limit).replace("_", " ")} applied`)] : null,
    row("Fixed (start fee)", o?.total_fixed_cost),
    row("Energy", o?.total_energy_cost, hasNum(o?.total_energy) ? quantity(o.total_energy, "kWh") : undefined),
    row("Charging time", o?.total_time_cost, hasNum(o?.total_time) ? hours(o.total_time) : undefined),
    row("Parking time", o?.total_parking_cost, hasNum(o?.total_parking_time) ? hours(o.total_parking_time) : undefined),
    row("Reservation", o?.total_reservation_cost));
}

/** The charging periods; with `end`/`cost` columns when the periods carry them. */
export function periodsTable(periods, currency, caption = "Charging periods") {
  const list = Array.isArray(periods) ? periods : [];
  const withEnd = list.some((p) => p.end_date_time);
  const withCost = list.some((p) => p.cost);
  return simpleTable(caption, [
    { key: "start", label: "From", render: (p) => when(p.start_date_time) },
    withEnd ? { key: "end", label: "Until", render: (p) => when(p.end_date_time) } : null,
    { key: "tariff", label: "Tariff", render: (p) => (p.tariff_id ? h("code", {}, String(p.tariff_id)) : fmt.DASH) },
    { key: "dimensions", label: "Volumes", render: (p) => h("ul", { class: "plain" },
      (p.dimensions || []).map((d) => h("li", {}, dimensionText(d)))) },
    withCost ? { key: "cost", label: "Cost", class: "num", render: (p) => priceText(p.cost, currency) } : null,
  ].filter(Boolean), list, "No charging periods.");
}

/** The total cost of a row in a list: incl. VAT (excl. in the tooltip). */
export function totalCell(price, currency) {
  if (!price) return fmt.DASH;
  const incl = num(price.incl_vat);
  const main = incl !== null ? money(incl, currency) : money(price.excl_vat, currency);
  return h("span", { title: priceText(price, currency) }, main);
}
