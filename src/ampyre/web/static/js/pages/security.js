// Security (issue 19): the security events of all stations (this page, /security), and
// the pieces the other security pages share: the sub-navigation between them, expiry
// and status labels, the "not available on this server" state for an API route that is
// missing, and redrawing a live part without losing the keyboard focus. Everything a
// station sent (event types, tech info, certificate subjects) is shown as text only.

import { api, seg } from "../api.js";
import { badge, errorBox } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h, replace, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";

/** The security pages, in the order of the sub-navigation. */
export const SECTIONS = [
  ["/security", "Security events"],
  ["/security/certificates", "Station certificates"],
  ["/security/pki", "PKI"],
  ["/security/contract-certificates", "Plug & Charge"],
];

/** Links between the security pages; the current one is marked. */
export function subnav(current) {
  return h("nav", { class: "crumbs security-nav", "aria-label": "Security pages" },
    SECTIONS.map(([path, label], i) => [
      i ? h("span", { class: "muted", "aria-hidden": "true" }, " · ") : null,
      h("a", { href: href(path), "aria-current": path === current ? "page" : null }, label),
    ]));
}

/** A list answer, whether the API gives {items, total} or a bare list. */
export const itemsOf = (answer) => (Array.isArray(answer) ? answer : answer?.items || []);

/** {items, total} for a paged table from an answer of either shape. */
export function pageOf(answer, { limit, offset } = {}) {
  if (Array.isArray(answer)) {
    const items = limit ? answer.slice(offset || 0, (offset || 0) + limit) : answer;
    return { items, total: answer.length };
  }
  return { items: answer?.items || [], total: answer?.total ?? (answer?.items || []).length };
}

/** Did the request fail because this server has no such API route (not yet built, or an
 *  older server)? Such a 404 says "no resource at <path>"; a missing record says more. */
export function isMissingRoute(err) {
  if (!err) return false;
  if (err.status === 405) return true;
  return err.status === 404 && /^no resource at /.test(String(err.detail || ""));
}

/** What to show instead of a part whose API route is missing. */
export function unavailable(what) {
  return h("p", { class: "notice unavailable", role: "status" },
    h("strong", {}, "Not available: "), `${what} is not available on this server (its API is missing).`);
}

/** An error box, or the "not available" state for a missing route. */
export function failure(err, what) {
  return isMissingRoute(err) ? unavailable(what) : errorBox(err);
}

const DAY = 86400000;

/** Days until `iso` (negative: past), or null. */
export function daysLeft(iso, now = Date.now()) {
  if (!iso) return null;
  const t = new Date(iso).getTime();
  return Number.isNaN(t) ? null : Math.floor((t - now) / DAY);
}

/** An expiry: the date, and a label when it is past or near (within `warnDays`). */
export function expiryCell(iso, warnDays = 30) {
  if (!iso) return fmt.DASH;
  const days = daysLeft(iso);
  const when = h("time", { datetime: iso, title: fmt.time(iso) }, fmt.time(iso));
  if (days === null) return when;
  if (new Date(iso).getTime() <= Date.now()) return h("span", {}, when, " ", badge("expired", "badge-failed"));
  if (days < warnDays) return h("span", {}, when, " ", badge(days < 1 ? "expires today" : `expires in ${days} d`, "badge-expired"));
  return h("span", {}, when, " ", h("small", { class: "muted" }, `${days} d left`));
}

/** A time as <time> with the full value in its tooltip, "3 min ago" style. */
export function ago(iso) {
  return iso ? h("time", { datetime: iso, title: fmt.time(iso) }, fmt.ago(iso)) : fmt.DASH;
}

/** A status in a colour that says how it went (no new CSS: the existing tones): credential
 *  changes, CSRs, the stations' answers, the certificateStatus of a contract certificate. */
const TONES = {
  ok: ["accepted", "completed", "installed"],
  info: ["sent", "signing"],
  bad: ["rejected", "station-rejected", "failed", "signatureerror", "certificateexpired",
    "certificaterevoked", "certchainerror", "contractcancelled"],
  warn: ["nocertificateavailable", "not-supported"],
};
const TONE_CLASS = { ok: "badge-ok", info: "badge-pending", bad: "badge-failed", warn: "badge-expired" };

export function statusBadge(status) {
  const key = String(status ?? "unknown").toLowerCase().replace(/[^a-z]+/g, "-");
  const tone = Object.entries(TONES).find(([, list]) => list.includes(key))?.[0];
  return badge(status ?? "unknown", tone ? TONE_CLASS[tone] : "badge-unknown");
}

/** A certificate's subject (or CN) as short text, full value in the tooltip. */
export function subjectText(cert) {
  const subject = cert.subject;
  if (!subject) return fmt.DASH;
  return h("span", { class: "subject", title: String(subject) }, String(subject));
}

/** A serial number or fingerprint as code; long ones shortened, full in the tooltip. */
export function hexCode(value, keep = 16) {
  if (value === null || value === undefined || value === "") return fmt.DASH;
  const s = String(value);
  const short = s.length > keep + 3 ? `${s.slice(0, keep)}…` : s;
  return h("code", { title: s, class: "wrap" }, short);
}

/** A key for the element that has the focus inside `box`, so the same control can be
 *  found again after a redraw: its data-focus key, else tag + name/label + href. */
function focusKey(el) {
  if (!el || el === document.body) return null;
  if (el.dataset?.focus) return `[data-focus="${CSS.escape(el.dataset.focus)}"]`;
  return { tag: el.tagName, label: el.getAttribute("aria-label"), text: (el.textContent || "").trim(), href: el.getAttribute("href") };
}

function findAgain(box, key) {
  if (typeof key === "string") return box.querySelector(key);
  return [...box.querySelectorAll(key.tag)].find((el) => el.getAttribute("aria-label") === key.label
    && (el.textContent || "").trim() === key.text && el.getAttribute("href") === key.href) || null;
}

/** Redraw `box` with `children`; the control that had the focus inside it gets it back
 *  (live refreshes must not throw a keyboard user back to the top of the page), and
 *  <details> that were open stay open. */
export function redraw(box, ...children) {
  const active = box.contains(document.activeElement) ? focusKey(document.activeElement) : null;
  const opened = [...box.querySelectorAll("details[data-key]")].filter((d) => d.open).map((d) => d.dataset.key);
  replace(box, ...children);
  for (const key of opened) {
    const again = box.querySelector(`details[data-key="${CSS.escape(key)}"]`);
    if (again) again.open = true;
  }
  if (active) findAgain(box, active)?.focus({ preventScroll: true });
}

/** Run `fn` at most once a second however many events ask for it. */
export function throttled(scope, fn) {
  let timer = null;
  scope.onCleanup(() => clearTimeout(timer));
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      if (scope.alive) fn();
    }, 1000);
  };
}

/** Keep the focus across a reload of a paged table (its body is rebuilt). */
export async function reloadKeepingFocus(table) {
  const el = table.el;
  const active = el.contains(document.activeElement) ? focusKey(document.activeElement) : null;
  await table.reload();
  if (active && !el.contains(document.activeElement)) findAgain(el, active)?.focus({ preventScroll: true });
}

/** A plain table (not server-paged) with a caption for screen readers. */
export function simpleTable(caption, columns, rows, empty, rowProps) {
  return h("div", { class: "table-scroll" }, h("table", { class: "data" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
    h("tbody", {}, rows.length === 0
      ? h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty))
      : rows.map((row) => h("tr", rowProps ? rowProps(row) : {}, columns.map((c) => h("td", { class: c.class, "data-label": c.label },
        (c.render ? c.render(row) : row[c.key]) ?? fmt.DASH)))))));
}

// ---------------------------------------------------------------- security events

/** Live event types after which the security views look again: a critical security
 *  event or a certificate problem raises an alert; credential changes complete when a
 *  station reconnects. The rest (a CSR signed, a non-critical event) has no event on
 *  the stream: the views also poll every POLL_MS. */
export const SECURITY_EVENTS = ["alert.raised", "station.connected", "station.disconnected"];
export const POLL_MS = 15000;


function criticalCell(e) {
  if (e.critical === true) return badge("critical", "badge-failed");
  if (e.critical === false) return h("span", { class: "muted" }, "no");
  return fmt.DASH;
}

/** Who saw it: the station (SecurityEventNotification) or Ampyre (a refused connection). */
function originCell(e) {
  return e.source === "csms" ? "Ampyre (CSMS)" : fmt.text(e.source);
}

/** The security events (of one station, or of all), newest first, server-paged, with
 *  filters; refreshed on live events and every POLL_MS, the focus kept. */
export function securityEventsTable(scope, { stationId = null, query = null } = {}) {
  const station = stationId ? null : h("input", { type: "search", name: "station", value: query?.get("station") || "", autocomplete: "off" });
  const type = h("input", { type: "search", name: "type", value: query?.get("type") || "", autocomplete: "off" });
  const critical = select({ name: "critical" }, [["", "All events"], ["true", "Critical only"]], query?.get("critical") || "");
  const path = stationId ? `/stations/${seg(stationId)}/security-events` : "/security-events";
  let missing = false;
  const table = pagedTable({
    caption: stationId ? "Security events of this station, newest first" : "Security events, newest first",
    pageSize: 25,
    empty: "No security events.",
    rowKey: (e) => String(e.id),
    filters: [
      station ? field("Station", station) : null,
      field("Event type", type, "The exact name, e.g. TamperDetectionActivated."),
      field("Show", critical),
    ],
    load: async ({ limit, offset }) => {
      const params = {
        limit, offset,
        station_id: station ? station.value.trim() : null,
        type: type.value.trim(),
        critical: critical.value || null,
      };
      if (!stationId) setQuery({ station: params.station_id, type: params.type, critical: params.critical });
      try {
        const answer = pageOf(await api.get(path, params), { limit, offset });
        missing = false;
        notice.replaceChildren();
        return answer;
      } catch (err) {
        if (!isMissingRoute(err)) throw err;
        missing = true;
        replace(notice, unavailable("The security event log"));
        return { items: [], total: 0 };
      }
    },
    columns: [
      { key: "time", label: "When", render: (e) => ago(e.timestamp) },
      stationId ? null : { key: "station_id", label: "Station", render: (e) => (e.station_id
        ? h("a", { href: href(`/stations/${seg(e.station_id)}`, { tab: "security" }) }, e.station_id) : fmt.DASH) },
      { key: "type", label: "Event", render: (e) => h("code", { class: "wrap" }, fmt.text(e.type)) },
      { key: "critical", label: "Critical", render: criticalCell },
      { key: "origin", label: "Seen by", render: originCell },
      { key: "tech_info", label: "Technical information", render: (e) => fmt.text(e.tech_info) },
    ].filter(Boolean),
  });
  const notice = h("div");
  const restart = debounce(() => table.restart(), 300);
  for (const input of [station, type]) input?.addEventListener("input", restart);
  critical.addEventListener("change", () => table.restart());
  const refresh = throttled(scope, () => {
    if (!missing) reloadKeepingFocus(table);
  });
  // All stations: only alerts (a fleet's connects and disconnects would reload it
  // every second); one station: its connects too.
  for (const t of stationId ? SECURITY_EVENTS : ["alert.raised"]) {
    scope.live(t, (event) => {
      if (!stationId || !event?.station_id || event.station_id === stationId) refresh();
    });
  }
  scope.live("reset", refresh);
  scope.every(POLL_MS, refresh);
  return { el: h("div", {}, notice, table.el), reload: () => table.reload() };
}

export default {
  path: "/security",
  title: "Security events",
  nav: { label: "Security", order: 85 },

  async render(root, ctx) {
    const events = securityEventsTable(ctx, { query: ctx.query });
    root.append(
      subnav("/security"),
      pageHeader("Security events"),
      h("p", { class: "muted" },
        "What stations reported in SecurityEventNotification, and what Ampyre itself saw (refused TLS handshakes, wrong passwords, downgrade attempts). Critical events also raise an ",
        h("a", { href: href("/alerts") }, "alert"), "."),
      events.el);
  },
};
