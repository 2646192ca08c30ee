// The live price preview: a sample session (start, minutes charging, minutes parked
// after, kWh, power, current, an optional reservation before it, the time zone the
// tariff's restrictions are read in) priced by the server's tariff engine
// (POST /tariffs/preview) with the tariff being edited (or a saved one by id), shown as
// the total, the cost per dimension and the charging periods. Recomputed a moment after
// each change of the session or of the tariff.

import { api } from "../../api.js";
import { errorBox } from "../../components/notice.js";
import { isoFromLocal, localInputValue } from "../../components/forms.js";
import { debounce, field, h, replace } from "../../dom.js";
import { optionalNumber, priceShort } from "./common.js";
import { costBreakdown, periodsTable } from "./cost.js";

function defaultStart() {
  const d = new Date();
  d.setHours(18, 0, 0, 0); // an evening session: restrictions by time of day show
  return d;
}

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Why there is no price, without role="alert": it changes at every keystroke while a
 *  tariff is being typed, and a screen reader would announce each one. */
function reasons(err) {
  const box = errorBox(err);
  box.removeAttribute("role");
  return box;
}

/**
 * pricePreview({tariff: () => TariffIn-like | null, tariffId: () => string | null})
 * -> {el, refresh()}. Either the draft tariff (the editor's value) or a saved tariff's id.
 */
export function pricePreview({ tariff = () => null, tariffId = () => null } = {}) {
  const num = (props) => h("input", { type: "number", inputmode: "decimal", step: "any", autocomplete: "off", min: 0, ...props });
  const start = h("input", { type: "datetime-local", name: "preview_start", value: localInputValue(defaultStart()) });
  const charging = num({ name: "preview_charging", value: 90 });
  const parking = num({ name: "preview_parking", value: 30 });
  const energy = num({ name: "preview_energy", value: 20 });
  const power = num({ name: "preview_power", value: "" });
  const current = num({ name: "preview_current", value: "" });
  const reservation = num({ name: "preview_reservation", value: "" });
  const zone = h("input", { name: "preview_zone", value: browserZone(), autocomplete: "off", spellcheck: "false" });
  const total = h("p", { class: "preview-total", role: "status", "aria-live": "polite" }, "…");
  const details = h("div", { class: "preview-result" });
  let seq = 0;

  async function refresh() {
    const mine = ++seq;
    const session = {
      start: isoFromLocal(start.value),
      charging_minutes: optionalNumber(charging.value) ?? 0,
      parking_minutes: optionalNumber(parking.value) ?? 0,
      energy_kwh: optionalNumber(energy.value) ?? 0,
      power_kw: optionalNumber(power.value),
      current_a: optionalNumber(current.value),
      reservation_minutes: optionalNumber(reservation.value),
      reservation_expired: false,
    };
    const draft = tariff();
    const body = { session, time_zone: zone.value.trim() || null, tariff: draft, tariff_id: draft ? null : tariffId() };
    details.setAttribute("aria-busy", "true");
    try {
      const priced = await api.post("/tariffs/preview", body);
      if (mine !== seq) return;
      replace(total, "This session costs ", h("strong", {}, priceShort(priced.total_cost, priced.currency)),
        priced.total_cost?.incl_vat !== undefined && priced.total_cost?.incl_vat !== null ? " incl. VAT" : " excl. VAT");
      replace(details, costBreakdown(priced, priced.currency),
        h("h3", {}, "Charging periods"), periodsTable(priced.charging_periods, priced.currency, "Charging periods of the sample session"));
    } catch (err) {
      if (mine !== seq) return;
      replace(total, "No price: the tariff or the session is not valid yet.");
      replace(details, reasons(err));
    } finally {
      if (mine === seq) details.removeAttribute("aria-busy");
    }
  }

  const soon = debounce(refresh, 400);
  const form = h("div", { class: "preview-session" },
    h("div", { class: "restriction-row" },
      field("Session start", start),
      field("Charging (min)", charging),
      field("Parked after (min)", parking),
      field("Energy (kWh)", energy)),
    h("div", { class: "restriction-row" },
      field("Power (kW)", power, "Optional."),
      field("Current (A)", current, "Optional."),
      field("Reservation before (min)", reservation, "Optional."),
      field("Time zone", zone, "Of the restrictions.")));
  form.addEventListener("input", soon);
  const el = h("div", { class: "price-preview" }, form, total, details);
  return { el, refresh: soon, now: refresh };
}
