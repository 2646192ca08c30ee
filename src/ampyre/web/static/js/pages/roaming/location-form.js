// The location editor (OCPI 2.2.1 mod_locations Location): name, address, city, postal
// code, state, country (ISO 3166-1 alpha-3), coordinates, time zone, parking type,
// facilities, opening hours (24/7 or not), publish and roaming. The fields this form
// does not show (directions, images, related locations, energy mix, ...) are kept as
// they are: PUT /locations/{id} replaces every field. Also the connector and EVSE
// attribute dialogs of the location page.

import { checkbox, checkboxGroup, optional } from "../../components/forms.js";
import { field, h, select } from "../../dom.js";
import { optionalNumber } from "./common.js";

export const PARKING_TYPES = ["ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET", "UNDERGROUND_GARAGE"];
export const FACILITIES = ["HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE",
  "MUSEUM", "BIKE_SHARING", "BUS_STOP", "TAXI_STAND", "TRAM_STOP", "METRO_STATION", "TRAIN_STATION", "AIRPORT",
  "PARKING_LOT", "CARPOOL_PARKING", "FUEL_STATION", "WIFI"];
export const STANDARDS = ["CHADEMO", "CHAOJI", ..."ABCDEFGHIJKLMNO".split("").map((c) => `DOMESTIC_${c}`), "GBT_AC", "GBT_DC",
  "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32", "IEC_60309_2_three_64",
  "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2", "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C",
  "NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50", "NEMA_14_30", "NEMA_14_50",
  "PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S"];
export const FORMATS = ["SOCKET", "CABLE"];
export const POWER_TYPES = ["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"];
export const CAPABILITIES = ["CHARGING_PROFILE_CAPABLE", "CHARGING_PREFERENCES_CAPABLE", "CHIP_CARD_SUPPORT",
  "CONTACTLESS_CARD_SUPPORT", "CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "PED_TERMINAL", "REMOTE_START_STOP_CAPABLE",
  "RESERVABLE", "RFID_READER", "START_SESSION_CONNECTOR_REQUIRED", "TOKEN_GROUP_CAPABLE", "UNLOCK_CAPABLE"];
export const PARKING_RESTRICTIONS = ["EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"];

// What the server adds to a location (LocationOut) and a PUT must not send back.
const READ_ONLY = ["stations", "created_at", "updated_at", "last_updated", "country_code", "party_id"];

const text = (props = {}) => h("input", { autocomplete: "off", spellcheck: "false", ...props });

/** A coordinate as the API wants it (OCPI GeoLocation: a decimal string), or null. */
function coordinate(value) {
  const v = String(value ?? "").trim();
  return v === "" ? null : v;
}

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

export function locationForm(location) {
  const isNew = !location;
  const l = location || {};
  const id = text({ name: "id", maxlength: 36, value: l.id || "", readonly: !isNew });
  const name = text({ name: "name", maxlength: 255, value: l.name || "" });
  const address = text({ name: "address", required: true, maxlength: 45, value: l.address || "" });
  const city = text({ name: "city", required: true, maxlength: 45, value: l.city || "" });
  const postal = text({ name: "postal_code", maxlength: 10, value: l.postal_code || "" });
  const state = text({ name: "state", maxlength: 20, value: l.state || "" });
  const country = text({ name: "country", required: true, maxlength: 3, minlength: 3, value: l.country || "" });
  const lat = text({ name: "latitude", required: true, maxlength: 10, inputmode: "decimal", value: l.coordinates?.latitude ?? "" });
  const lon = text({ name: "longitude", required: true, maxlength: 11, inputmode: "decimal", value: l.coordinates?.longitude ?? "" });
  const zone = text({ name: "time_zone", required: true, maxlength: 255, value: l.time_zone ?? (isNew ? browserZone() : "") });
  const parking = select({ name: "parking_type" }, [["", "Not given"], ...PARKING_TYPES], l.parking_type || "");
  const facilities = checkboxGroup("Facilities", FACILITIES, l.facilities || []);
  const always = checkbox("Open 24/7", l.opening_times ? Boolean(l.opening_times.twentyfourseven) : true);
  const publish = checkbox("Publish (drivers may see it in apps and maps)", l.publish !== false);
  const roaming = checkbox("Roaming (served and pushed to eMSP partners)", l.roaming !== false);
  const operator = text({ name: "operator", maxlength: 100, value: l.operator?.name || "" });

  const el = h("div", { class: "location-form" },
    h("div", { class: "grid" },
      h("div", {},
        field("Location id", id, isNew ? "Optional: Ampyre makes one. Letters, digits and . _ - ~; at most 36." : "The id cannot change."),
        field("Name", name),
        field("Address", address, "Street and number."),
        field("City", city),
        field("Postal code", postal),
        field("State or province", state),
        field("Country", country, "ISO 3166-1 alpha-3, e.g. NLD.")),
      h("div", {},
        field("Latitude", lat, "Decimal degrees, e.g. 52.090730."),
        field("Longitude", lon, "Decimal degrees, e.g. 5.121420."),
        field("Time zone", zone, "IANA name, e.g. Europe/Amsterdam: tariffs' times are read in it."),
        field("Parking type", parking),
        field("Operator name", operator, "Empty: our business name."),
        always.el, publish.el, roaming.el)),
    facilities.el);

  return {
    el,
    value() {
      const keep = { ...l };
      for (const key of READ_ONLY) delete keep[key];
      const body = {
        ...keep,
        name: optional(name.value),
        address: address.value.trim(),
        city: city.value.trim(),
        postal_code: optional(postal.value),
        state: optional(state.value),
        country: country.value.trim().toUpperCase(),
        coordinates: { latitude: coordinate(lat.value), longitude: coordinate(lon.value) },
        time_zone: zone.value.trim(),
        parking_type: parking.value || null,
        facilities: facilities.values(),
        opening_times: always.input.checked ? { twentyfourseven: true }
          : (l.opening_times && !l.opening_times.twentyfourseven ? l.opening_times : { twentyfourseven: false }),
        publish: publish.input.checked,
        roaming: roaming.input.checked,
        operator: optional(operator.value) ? { ...(l.operator || {}), name: operator.value.trim() } : null,
      };
      const newId = optional(id.value);
      if (newId) body.id = newId;
      else delete body.id;
      return body;
    },
  };
}

/** The fields of a connector's OCPI attributes (standard, format, power type, limits). */
export function connectorFields(c) {
  const standard = select({ name: "standard" }, STANDARDS, c.standard || "IEC_62196_T2");
  const format = select({ name: "format" }, FORMATS, c.format || "SOCKET");
  const power = select({ name: "power_type" }, POWER_TYPES, c.power_type || "AC_3_PHASE");
  const voltage = h("input", { name: "max_voltage", type: "number", min: 0, step: 1, required: true, value: c.max_voltage ?? 230 });
  const amperage = h("input", { name: "max_amperage", type: "number", min: 0, step: 1, required: true, value: c.max_amperage ?? 32 });
  const electric = h("input", { name: "max_electric_power", type: "number", min: 0, step: 1, value: c.max_electric_power ?? "" });
  const terms = h("input", { name: "terms_and_conditions", type: "url", maxlength: 255, value: c.terms_and_conditions || "" });
  return {
    fields: [
      field("Standard", standard), field("Format", format), field("Power type", power),
      field("Max voltage (V)", voltage), field("Max amperage (A)", amperage),
      field("Max electric power (W)", electric, "Optional: when lower than voltage × amperage says."),
      field("Terms and conditions URL", terms, "Optional."),
    ],
    value: () => ({
      standard: standard.value,
      format: format.value,
      power_type: power.value,
      max_voltage: optionalNumber(voltage.value),
      max_amperage: optionalNumber(amperage.value),
      max_electric_power: optionalNumber(electric.value),
      terms_and_conditions: optional(terms.value),
    }),
  };
}

/** The fields of an EVSE's OCPI attributes (EVSE id, floor, reference, capabilities). */
export function evseFields(e) {
  const evseId = h("input", { name: "evse_id", maxlength: 48, autocomplete: "off", spellcheck: "false", value: e.customized ? (e.emi3_id || "") : "" });
  const floor = h("input", { name: "floor_level", maxlength: 4, autocomplete: "off", value: e.floor_level || "" });
  const reference = h("input", { name: "physical_reference", maxlength: 16, autocomplete: "off", value: e.physical_reference || "" });
  const caps = checkboxGroup("Capabilities", CAPABILITIES, e.capabilities || [], "None ticked: Ampyre's defaults.");
  const restrictions = checkboxGroup("Parking restrictions", PARKING_RESTRICTIONS, e.parking_restrictions || []);
  return {
    fields: [
      field("EVSE id (eMI3)", evseId, `Empty: derived (${e.emi3_id || "from our party and the station"}).`),
      field("Floor level", floor), field("Physical reference", reference, "What the driver reads on the charger."),
      caps.el, restrictions.el,
    ],
    value: () => {
      const list = caps.values();
      return {
        evse_id: optional(evseId.value),
        floor_level: optional(floor.value),
        physical_reference: optional(reference.value),
        capabilities: list.length ? list : null,
        parking_restrictions: restrictions.values(),
        directions: e.directions || [],
      };
    },
  };
}
