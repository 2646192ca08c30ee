// The tariff editor (OCPI 2.2.1 mod_tariffs): id, currency, type, where it applies
// (default tariff, or these stations), min/max price, validity, an alternative text,
// and the elements in order (the first element whose restrictions match wins per
// dimension, so elements move up and down), each with its price components (type,
// price excl. VAT, VAT %, step size) and restrictions (time of day, dates, days of the
// week, kWh, current, power, duration, reservation). `value()` gives the REST body
// (TariffIn); every edit calls `onChange` (the live price preview listens).

import { checkbox, isoFromLocal, localInputValue, optional } from "../../components/forms.js";
import { field, h, replace, select } from "../../dom.js";
import { optionalNumber } from "./common.js";
import { DAYS, DIMENSION_NAMES, DIMENSIONS } from "./tariff-text.js";

const TYPES = [["", "Any session (no type)"], ["REGULAR", "REGULAR"], ["AD_HOC_PAYMENT", "AD_HOC_PAYMENT"],
  ["PROFILE_CHEAP", "PROFILE_CHEAP"], ["PROFILE_FAST", "PROFILE_FAST"], ["PROFILE_GREEN", "PROFILE_GREEN"]];
const RESERVATION = [["", "No (any session)"], ["RESERVATION", "RESERVATION (the reservation time)"],
  ["RESERVATION_EXPIRES", "RESERVATION_EXPIRES (a reservation that expired)"]];
const PRICE_HINT = { ENERGY: "per kWh", TIME: "per hour charging", PARKING_TIME: "per hour parking", FLAT: "per session" };
const STEP_HINT = { ENERGY: "Wh", TIME: "s", PARKING_TIME: "s", FLAT: "–" };
// Restriction inputs: [key, label, type, unit hint].
const LIMITS = [
  ["min_kwh", "Min energy (kWh)"], ["max_kwh", "Max energy (kWh)"],
  ["min_current", "Min current (A)"], ["max_current", "Max current (A)"],
  ["min_power", "Min power (kW)"], ["max_power", "Max power (kW)"],
  ["min_duration", "Min duration (s)"], ["max_duration", "Max duration (s)"],
];

const input = (props = {}) => h("input", { autocomplete: "off", spellcheck: "false", ...props });
const numberInput = (props = {}) => input({ type: "number", inputmode: "decimal", step: "any", ...props });

function priceFields(label, price, hint) {
  const excl = numberInput({ min: 0, value: price?.excl_vat ?? "" });
  const incl = numberInput({ min: 0, value: price?.incl_vat ?? "" });
  return {
    el: h("div", { class: "inline-form" },
      field(`${label} excl. VAT`, excl, hint), field(`${label} incl. VAT`, incl, "Optional.")),
    value() {
      const e = optionalNumber(excl.value);
      if (e === null) return null;
      const out = { excl_vat: e };
      const i = optionalNumber(incl.value);
      if (i !== null) out.incl_vat = i;
      return out;
    },
  };
}

export function tariffForm(record, { onChange = () => {}, isNew = !record } = {}) {
  const t = record?.tariff || {};
  const id = input({ name: "id", required: true, maxlength: 36, value: t.id || "", readonly: !isNew });
  const currency = input({ name: "currency", required: true, maxlength: 3, minlength: 3, value: t.currency || "EUR" });
  const type = select({ name: "type" }, TYPES, t.type || "");
  const isDefault = checkbox("The default tariff (for every station that has no tariff of its own)", Boolean(record?.is_default));
  const stations = input({ name: "station_ids", value: (record?.station_ids || []).join(", ") });
  const minPrice = priceFields("Min price", t.min_price, "A session costs at least this.");
  const maxPrice = priceFields("Max price", t.max_price, "A session costs at most this.");
  const start = input({ type: "datetime-local", name: "start_date_time", value: localInputValue(t.start_date_time) });
  const end = input({ type: "datetime-local", name: "end_date_time", value: localInputValue(t.end_date_time) });
  const altText = input({ name: "tariff_alt_text", maxlength: 512, value: (t.tariff_alt_text || [])[0]?.text || "" });
  const altLang = input({ name: "tariff_alt_language", maxlength: 2, value: (t.tariff_alt_text || [])[0]?.language || "en" });
  const altUrl = input({ name: "tariff_alt_url", type: "url", maxlength: 255, value: t.tariff_alt_url || "" });
  const elementsBox = h("div", { class: "tariff-elements-editor" });
  const elements = [];

  function renumber() {
    elements.forEach((e, i) => {
      e.number = i + 1;
      e.legend.textContent = `Element ${i + 1}`;
      e.up.disabled = i === 0;
      e.down.disabled = i === elements.length - 1;
      e.up.setAttribute("aria-label", `Move element ${i + 1} up`);
      e.down.setAttribute("aria-label", `Move element ${i + 1} down`);
      e.remove.setAttribute("aria-label", `Remove element ${i + 1}`);
      e.addComponent.setAttribute("aria-label", `Add a price component to element ${i + 1}`);
      e.components.forEach((c, j) => c.label(i + 1, j + 1));
      e.restrictLabel(i + 1);
    });
    replace(elementsBox, elements.length ? elements.map((e) => e.el)
      : h("p", { class: "muted" }, "No elements yet: add one (a tariff needs at least one)."));
  }

  function addComponent(el, pc = {}) {
    const c = {
      type: select({}, DIMENSIONS.map((d) => [d, DIMENSION_NAMES[d]]), pc.type || "ENERGY"),
      price: numberInput({ min: 0, required: true, value: pc.price ?? "" }),
      vat: numberInput({ min: 0, max: 100, value: pc.vat ?? "" }),
      step: input({ type: "number", min: 1, step: 1, required: true, value: pc.step_size ?? 1 }),
      hint: h("small", { class: "muted" }),
    };
    const showHint = () => {
      c.hint.textContent = `${PRICE_HINT[c.type.value] || ""}; step in ${STEP_HINT[c.type.value] || "?"}`;
    };
    c.type.addEventListener("change", showHint);
    showHint();
    c.remove = h("button", {
      type: "button", class: "small",
      onclick: () => {
        el.components.splice(el.components.indexOf(c), 1);
        c.row.remove();
        renumber();
        onChange();
      },
    }, "Remove");
    c.label = (e, n) => {
      const what = `component ${n} of element ${e}`;
      c.type.setAttribute("aria-label", `Type of ${what}`);
      c.price.setAttribute("aria-label", `Price of ${what} (excl. VAT)`);
      c.vat.setAttribute("aria-label", `VAT of ${what} (%)`);
      c.step.setAttribute("aria-label", `Step size of ${what}`);
      c.remove.setAttribute("aria-label", `Remove ${what}`);
    };
    c.row = h("tr", {},
      h("td", { "data-label": "Dimension" }, c.type, c.hint),
      h("td", { "data-label": "Price excl. VAT" }, c.price),
      h("td", { "data-label": "VAT %" }, c.vat),
      h("td", { "data-label": "Step size" }, c.step),
      h("td", {}, c.remove));
    c.value = () => {
      const out = { type: c.type.value, price: optionalNumber(c.price.value), step_size: optionalNumber(c.step.value) ?? 1 };
      const vat = optionalNumber(c.vat.value);
      if (vat !== null) out.vat = vat;
      return out;
    };
    el.components.push(c);
    el.componentBody.append(c.row);
  }

  function addElement(e = {}, at = elements.length) {
    const r = e.restrictions || {};
    const el = { components: [], componentBody: h("tbody") };
    el.legend = h("legend", {});
    el.start = input({ type: "time", value: r.start_time || "" });
    el.end = input({ type: "time", value: r.end_time || "" });
    el.startDate = input({ type: "date", value: r.start_date || "" });
    el.endDate = input({ type: "date", value: r.end_date || "" });
    el.limits = LIMITS.map(([key, label]) => [key, label, numberInput({ min: 0, value: r[key] ?? "" })]);
    el.days = DAYS.map((d) => h("input", { type: "checkbox", value: d, checked: (r.day_of_week || []).includes(d) }));
    el.reservation = select({}, RESERVATION, r.reservation || "");
    const restricted = Object.values(r).some((v) => (Array.isArray(v) ? v.length : v !== null && v !== undefined && v !== ""));
    el.restrictions = h("details", { class: "tariff-restrictions", open: restricted },
      h("summary", {}, "Restrictions (when this element applies)"),
      h("div", { class: "restriction-row" },
        field("From time", el.start), field("Until time", el.end, "Local time; the end is not included."),
        field("From date", el.startDate), field("Until date", el.endDate)),
      h("fieldset", { class: "checks days" }, h("legend", {}, "Days of the week (none: every day)"),
        el.days.map((box) => h("label", {}, box, " ", box.value.slice(0, 1) + box.value.slice(1).toLowerCase()))),
      h("div", { class: "restriction-row" }, el.limits.map(([, label, control]) => field(label, control))),
      h("div", { class: "restriction-row" }, field("Reservation", el.reservation)));
    el.restrictLabel = (n) => {
      el.restrictions.querySelector("summary").textContent = `Restrictions of element ${n} (when it applies)`;
    };
    el.up = h("button", { type: "button", class: "small", onclick: () => move(el, -1) }, "Move up");
    el.down = h("button", { type: "button", class: "small", onclick: () => move(el, 1) }, "Move down");
    el.remove = h("button", {
      type: "button", class: "small danger",
      onclick: () => {
        elements.splice(elements.indexOf(el), 1);
        renumber();
        onChange();
      },
    }, "Remove element");
    el.addComponent = h("button", { type: "button", class: "small", onclick: () => { addComponent(el); renumber(); onChange(); } }, "Add price component");
    el.el = h("fieldset", { class: "tariff-element" },
      el.legend,
      h("div", { class: "table-scroll" }, h("table", { class: "data components" },
        h("thead", {}, h("tr", {}, ["Dimension", "Price excl. VAT", "VAT %", "Step size", ""].map((c) => h("th", { scope: "col" }, c)))),
        el.componentBody)),
      h("div", { class: "actions" }, el.addComponent),
      el.restrictions,
      h("div", { class: "actions element-actions" }, el.up, el.down, el.remove));
    el.value = () => {
      const out = { price_components: el.components.map((c) => c.value()) };
      const rs = {};
      if (el.start.value) rs.start_time = el.start.value;
      if (el.end.value) rs.end_time = el.end.value;
      if (el.startDate.value) rs.start_date = el.startDate.value;
      if (el.endDate.value) rs.end_date = el.endDate.value;
      for (const [key, , control] of el.limits) {
        const v = optionalNumber(control.value);
        if (v !== null) rs[key] = v;
      }
      const days = el.days.filter((b) => b.checked).map((b) => b.value);
      if (days.length) rs.day_of_week = days;
      if (el.reservation.value) rs.reservation = el.reservation.value;
      if (Object.keys(rs).length) out.restrictions = rs;
      return out;
    };
    for (const pc of e.price_components || []) addComponent(el, pc);
    if (!e.price_components?.length) addComponent(el);
    elements.splice(at, 0, el);
  }

  function move(el, by) {
    const i = elements.indexOf(el);
    const j = i + by;
    if (j < 0 || j >= elements.length) return;
    elements.splice(i, 1);
    elements.splice(j, 0, el);
    renumber();
    // The button that was pressed moves with its element: keep it under the keyboard.
    (by < 0 && j === 0 ? el.down : by > 0 && j === elements.length - 1 ? el.up : by < 0 ? el.up : el.down).focus();
    onChange();
  }

  for (const e of t.elements || []) addElement(e);
  if (elements.length === 0) addElement({ price_components: [{ type: "ENERGY", price: "", step_size: 1 }] });
  renumber();

  const addElementButton = h("button", { type: "button", onclick: () => { addElement(); renumber(); onChange(); } }, "Add element");
  const el = h("div", { class: "tariff-form" },
    h("div", { class: "grid tariff-head" },
      h("div", {},
        field("Tariff id", id, isNew ? "Letters, digits and . _ -; at most 36." : "The id cannot change."),
        field("Currency", currency, "ISO 4217, e.g. EUR."),
        field("Type", type, "For a driver's charging preference; none: valid for all sessions.")),
      h("div", {},
        isDefault.el,
        field("Stations", stations, "Station ids, separated by commas: this tariff applies to them (before the default)."),
        field("Valid from", start, "Empty: already valid."),
        field("Valid until", end, "Empty: no end."))),
    h("h3", {}, "Elements"),
    h("p", { class: "muted" }, "Per dimension, the first element whose restrictions match is used: put the special cases first and an unrestricted element last."),
    elementsBox,
    h("div", { class: "actions" }, addElementButton),
    h("details", { class: "tariff-more", open: Boolean(t.min_price || t.max_price || t.tariff_alt_url || (t.tariff_alt_text || []).length) },
      h("summary", {}, "Price limits and texts"),
      minPrice.el, maxPrice.el,
      h("div", { class: "inline-form" }, field("Alternative text", altText, "Extra information for drivers (not the prices)."), field("Its language", altLang)),
      field("Explanation URL", altUrl)));
  el.addEventListener("input", () => onChange());
  el.addEventListener("change", () => onChange());

  return {
    el,
    id: () => id.value.trim(),
    value() {
      const out = {
        id: id.value.trim(),
        currency: currency.value.trim().toUpperCase(),
        type: type.value || null,
        elements: elements.map((e) => e.value()),
        tariff_alt_text: altText.value.trim() ? [{ language: altLang.value.trim() || "en", text: altText.value.trim() }] : [],
        tariff_alt_url: optional(altUrl.value),
        min_price: minPrice.value(),
        max_price: maxPrice.value(),
        start_date_time: isoFromLocal(start.value),
        end_date_time: isoFromLocal(end.value),
        energy_mix: t.energy_mix ?? null,
        station_ids: stations.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean),
        is_default: isDefault.input.checked,
      };
      return out;
    },
  };
}
