// What the roaming pages (issue 20: OCPI 2.2.1 partners, locations, tariffs, sessions,
// CDRs, tokens, commands, the push queue) share: their sub-navigation, money and OCPI
// price formatting, the partner's handshake state, a JSON block, and a list loader that
// shows "not available" when this server has no such API. Everything a partner sent
// (names, URLs, bodies, tariffs, CDRs) is shown as text only (dom.js h()).

import { api, seg } from "../../api.js";
import { badge } from "../../components/notice.js";
import { h } from "../../dom.js";
import * as fmt from "../../format.js";
import { href } from "../../router.js";
import { isMissingRoute, pageOf, unavailable } from "../security.js";

/** The roaming pages, in the order of the sub-navigation. */
export const SECTIONS = [
  ["/roaming", "Partners"],
  ["/roaming/locations", "Locations"],
  ["/roaming/tariffs", "Tariffs"],
  ["/roaming/sessions", "Sessions"],
  ["/roaming/cdrs", "CDRs"],
  ["/roaming/tokens", "Tokens"],
  ["/roaming/commands", "Commands"],
  ["/roaming/push-queue", "Push queue"],
];

/** Links between the roaming pages; `current` (one of SECTIONS' paths) is marked. */
export function subnav(current) {
  return h("nav", { class: "crumbs roaming-nav", "aria-label": "Roaming pages" },
    SECTIONS.map(([path, label], i) => [
      i ? h("span", { class: "muted", "aria-hidden": "true" }, " · ") : null,
      h("a", { href: href(path), "aria-current": path === current ? "page" : null }, label),
    ]));
}

// ------------------------------------------------------------------ money

/** A number the API sent (JSON number or decimal string) as a Number, or null. */
export function num(value) {
  if (value === null || value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** An amount in a currency: at least 2 decimals, up to 4 (OCPI prices have 4). The
 *  currency is data: an unknown code is shown after the number, never trusted. */
export function money(amount, currency) {
  const n = num(amount);
  if (n === null) return fmt.DASH;
  const opts = { minimumFractionDigits: 2, maximumFractionDigits: 4 };
  const code = String(currency || "").toUpperCase();
  if (/^[A-Z]{3}$/.test(code)) {
    try {
      return n.toLocaleString(undefined, { ...opts, style: "currency", currency: code });
    } catch {
      // not a currency this browser knows: fall through
    }
  }
  return `${n.toLocaleString(undefined, opts)}${code ? ` ${code}` : ""}`;
}

/** An OCPI Price {excl_vat, incl_vat?}: "€4.00 excl. VAT · €4.84 incl. VAT". */
export function priceText(price, currency) {
  if (!price || typeof price !== "object") return fmt.DASH;
  const excl = money(price.excl_vat, currency);
  if (num(price.incl_vat) === null) return `${excl} excl. VAT`;
  return `${excl} excl. VAT · ${money(price.incl_vat, currency)} incl. VAT`;
}

/** The headline amount of a Price: incl. VAT when known, else excl. VAT. */
export function priceShort(price, currency) {
  if (!price || typeof price !== "object") return fmt.DASH;
  return num(price.incl_vat) !== null ? money(price.incl_vat, currency) : money(price.excl_vat, currency);
}

/** A quantity with its unit and up to `digits` decimals ("15.342 kWh"). */
export function quantity(value, unit, digits = 3) {
  const n = num(value);
  return n === null ? fmt.DASH : `${n.toLocaleString(undefined, { maximumFractionDigits: digits })} ${unit}`;
}

/** Hours (OCPI total_time, decimal hours) as "1 h 05 min" with the hours in the tooltip. */
export function hours(value) {
  const n = num(value);
  if (n === null) return fmt.DASH;
  const minutes = Math.round(n * 60);
  const text = minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
  return h("span", { title: `${n} h` }, text);
}

// ------------------------------------------------------------------ states

const PARTNER_TONES = { REGISTERED: "badge-ok", PENDING: "badge-pending", UNREGISTERED: "badge-unknown" };

/** The handshake state of a partner (PENDING: created, token A not yet exchanged). */
export function partnerState(status) {
  const s = String(status || "UNKNOWN").toUpperCase();
  return badge(s, PARTNER_TONES[s] || "badge-unknown");
}

const OCPI_TONES = {
  ACTIVE: "badge-active", COMPLETED: "badge-ok", PENDING: "badge-pending", INVALID: "badge-failed",
  RESERVATION: "badge-reserved", AVAILABLE: "badge-ok", CHARGING: "badge-charging", RESERVED: "badge-reserved",
  BLOCKED: "badge-expired", INOPERATIVE: "badge-unknown", OUTOFORDER: "badge-failed", PLANNED: "badge-pending",
  REMOVED: "badge-unknown", UNKNOWN: "badge-unknown", FAILED: "badge-failed",
};

/** An OCPI status (session, EVSE, push row) in a tone that says how it stands. */
export function ocpiBadge(status) {
  const s = String(status ?? "UNKNOWN");
  return badge(s, OCPI_TONES[s.toUpperCase()] || "");
}

/** "EMSP DE/XYZ" for each role of a partner. */
export function rolesText(roles) {
  const list = Array.isArray(roles) ? roles : [];
  if (list.length === 0) return fmt.DASH;
  return list.map((r) => `${r.role || "?"} ${r.country_code || "?"}/${r.party_id || "?"}`).join(", ");
}

/** A link to a partner's page, by id (and its name when known). */
export function partnerLink(id, names) {
  if (id === null || id === undefined) return fmt.DASH;
  const name = names?.get(String(id));
  return h("a", { href: href(`/roaming/partners/${seg(id)}`) }, name || `Partner ${id}`);
}

/** {id -> name} of the partners (for the tables that only carry partner_id). */
export async function partnerNames() {
  try {
    const page = pageOf(await api.get("/ocpi/partners", { limit: 500 }));
    return new Map(page.items.map((p) => [String(p.id), p.name]));
  } catch {
    return new Map();
  }
}

/** A time as <time>, the full value in its tooltip. */
export function when(iso) {
  return iso ? h("time", { datetime: iso, title: String(iso) }, fmt.time(iso)) : fmt.DASH;
}

/** A URL a partner gave us, as text (never a link: it is theirs, and may be anything). */
export function urlText(url) {
  return url ? h("code", { class: "wrap" }, String(url)) : fmt.DASH;
}

/** A JSON value in a closed <details> (`key` keeps it open across redraws). */
export function jsonDetails(summary, value, key) {
  return h("details", { class: "json-details", dataset: key ? { key } : {} },
    h("summary", {}, summary), h("pre", {}, fmt.json(value)));
}

/** A body from the exchange log: pretty when it is JSON, else the text as it was. */
export function bodyText(body) {
  if (body === null || body === undefined || body === "") return "(empty)";
  if (typeof body !== "string") return fmt.json(body);
  try {
    return fmt.json(JSON.parse(body));
  } catch {
    return body;
  }
}

/**
 * A loader for pagedTable that asks `path` and, when the API route is missing, puts the
 * "not available" state into `notice` (and shows an empty table) instead of an error.
 * `params()` gives the filters; `onParams` gets them (for the address bar).
 */
export function listLoader(path, notice, what, params = () => ({}), onParams = null) {
  const state = { missing: false };
  const load = async ({ limit, offset }) => {
    const p = params();
    onParams?.(p);
    try {
      const page = pageOf(await api.get(path, { limit, offset, ...p }), { limit, offset });
      state.missing = false;
      notice.replaceChildren();
      return page;
    } catch (err) {
      if (!isMissingRoute(err)) throw err;
      state.missing = true;
      notice.replaceChildren(unavailable(what));
      return { items: [], total: 0 };
    }
  };
  return { load, state };
}

/** Text for "" -> null of optional inputs; numbers of optional number inputs. */
export function optionalNumber(value) {
  const v = String(value ?? "").trim();
  if (v === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : v; // a non-number goes as it is: the server says what is wrong
}
