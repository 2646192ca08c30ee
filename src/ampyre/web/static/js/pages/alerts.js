// Alerts: station faults (1.6 status error codes, 2.x NotifyEvent), worst first within
// the most recently seen; filtered by station, state and severity; operators acknowledge
// open ones. Alert events refresh the list, at most once a second. `alertsTab` is the
// same list for one station, on its page.

import { api, seg } from "../api.js";
import { badge, errorBox, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { h, field, select, debounce } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { can } from "../session.js";

const EVENTS = ["alert.raised", "alert.acknowledged", "alert.cleared"];
const STATES = [["unresolved", "Not cleared"], ["open", "Open"], ["acknowledged", "Acknowledged"],
  ["cleared", "Cleared"], ["", "All"]];
const SEVERITIES = [["", "Any severity"], ...["Danger", "Hardware failure", "System failure",
  "Critical", "Error", "Alert", "Warning", "Notice", "Informational", "Debug"]
  .map((name, i) => [String(i), i === 0 ? `${i} ${name}` : `${i} ${name} or worse`])];

/** The API's filter parameters for the page's filters. */
export function alertFilters(f) {
  return {
    station_id: f.station_id || null,
    state: f.state && f.state !== "unresolved" ? f.state : null,
    unresolved: f.state === "unresolved" ? true : null,
    severity_at_most: f.severity === "" || f.severity === undefined ? null : f.severity,
  };
}

/** Severity as a coloured label: 0-2 like a fault, 3-5 a warning, 6+ quiet. */
export function severityBadge(a) {
  const tone = a.severity <= 2 ? "badge-faulted" : a.severity <= 5 ? "badge-finishing" : "badge-unknown";
  return badge(`${a.severity} ${a.severity_name}`, tone);
}

export function stateBadge(a) {
  const tone = a.state === "open" ? "badge-faulted" : a.state === "acknowledged" ? "badge-finishing" : "badge-available";
  return badge(a.state, tone);
}

/** Where the fault is: EVSE / connector, and the 2.x component and variable. */
export function where(a) {
  const place = a.evse_id ? (a.connector_id && a.connector_id !== a.evse_id ? `EVSE ${a.evse_id} / ${a.connector_id}` : `EVSE ${a.evse_id}`) : "Station";
  const part = a.component ? `${a.component}${a.component_instance ? `(${a.component_instance})` : ""}.${a.variable}` : null;
  return h("span", {}, place, part ? h("small", { class: "muted" }, ` ${part}`) : null);
}

function detail(a) {
  const bits = [a.info, a.tech_info, a.actual_value !== null && a.actual_value !== undefined ? `value ${a.actual_value}` : null]
    .filter((x) => x);
  return bits.length ? bits.join(" · ") : fmt.DASH;
}

function acknowledgeButton(a, done) {
  if (a.state !== "open" || !can("operator")) {
    return a.acknowledged_by ? h("span", { title: fmt.time(a.acknowledged_at) }, a.acknowledged_by) : fmt.DASH;
  }
  const button = h("button", {
    type: "button",
    "aria-label": `Acknowledge alert ${a.id} (${a.code} at ${a.station_id})`,
    onclick: async () => {
      button.disabled = true;
      try {
        await api.post(`/alerts/${seg(a.id)}/acknowledge`);
        toast(`Alert ${a.id} acknowledged`, "info");
        await done();
      } catch (err) {
        errorBox(err);
        button.disabled = false;
      }
    },
  }, "Acknowledge");
  return button;
}

function columns(reload, withStation) {
  return [
    { key: "severity", label: "Severity", render: severityBadge },
    withStation ? { key: "station_id", label: "Station", render: (a) => h("a", { href: href(`/stations/${seg(a.station_id)}`, { tab: "alerts" }) }, a.station_id) } : null,
    { key: "where", label: "Where", render: where },
    { key: "code", label: "Code", render: (a) => h("code", {}, a.code) },
    { key: "state", label: "State", render: stateBadge },
    { key: "count", label: "Count", class: "num", render: (a) => fmt.number(a.count) },
    { key: "last_seen", label: "Last seen", render: (a) => h("span", { title: `first seen ${fmt.time(a.first_seen)}` }, fmt.ago(a.last_seen)) },
    { key: "detail", label: "Detail", render: detail },
    { key: "ack", label: "Acknowledged", render: (a) => acknowledgeButton(a, reload) },
  ].filter((c) => c);
}

/** Refetch at most once a second on alert events (of `stationId` only, if given). */
function liveRefresh(scope, reload, stationId) {
  let timer = null;
  let last = 0;
  const refresh = () => {
    if (timer) return;
    timer = setTimeout(async () => {
      timer = null;
      last = Date.now();
      await reload();
    }, Math.max(0, 1000 - (Date.now() - last)));
  };
  scope.onCleanup(() => clearTimeout(timer));
  for (const type of EVENTS) {
    scope.live(type, (event) => {
      if (!stationId || event?.station_id === stationId) refresh();
    });
  }
  scope.live("reset", refresh);
}

/** The station page's Alerts tab. */
export function alertsTab(panel, env) {
  const state = select({ "aria-label": "Alert state" }, STATES, "");
  const table = pagedTable({
    caption: "Alerts of this station, most recently seen first",
    pageSize: 20,
    empty: "No alerts at this station.",
    rowKey: (a) => String(a.id),
    filters: [field("State", state)],
    load: ({ limit, offset }) => api.get(`${env.path}/alerts`, { ...alertFilters({ state: state.value }), limit, offset }),
    columns: columns(() => table.reload(), false),
  });
  state.addEventListener("change", () => table.restart());
  liveRefresh(env.scope, () => table.reload(), env.id);
  panel.append(h("h2", { class: "visually-hidden" }, "Alerts"), table.el);
}

export default {
  path: "/alerts",
  title: "Alerts",
  nav: { label: "Alerts", order: 35 },

  async render(root, ctx) {
    const q = ctx.query;
    const filters = {
      station_id: q.get("station_id") || "",
      state: STATES.some(([v]) => v === q.get("state")) ? q.get("state") : "unresolved",
      severity: SEVERITIES.some(([v]) => v === q.get("severity")) ? q.get("severity") : "",
    };
    const offset = Math.max(0, Number.parseInt(q.get("offset") || "0", 10) || 0);
    const station = h("input", { type: "search", value: filters.station_id, autocomplete: "off", spellcheck: "false" });
    const state = select({}, STATES, filters.state);
    const severity = select({}, SEVERITIES, filters.severity);
    const apply = () => {
      filters.station_id = station.value.trim();
      filters.state = state.value;
      filters.severity = severity.value;
      table.restart();
    };
    station.addEventListener("input", debounce(apply, 350));
    state.addEventListener("change", apply);
    severity.addEventListener("change", apply);

    const table = pagedTable({
      caption: "Alerts, most recently seen first",
      pageSize: 25,
      offset,
      filters: [field("Station id", station), field("State", state), field("Severity", severity)],
      empty: "No alerts match.",
      rowKey: (a) => String(a.id),
      onState: (s) => setQuery({ ...filters, offset: s?.offset || null }),
      load: ({ limit, offset: off }) => api.get("/alerts", { ...alertFilters(filters), limit, offset: off }),
      columns: columns(() => table.reload(), true),
    });
    table.el.classList.add("alert-list");
    root.append(pageHeader("Alerts"), table.el);
    liveRefresh(ctx, () => table.reload(), null);
  },
};
