// One site: its grid connection, circuits and members; its status now (limit,
// allocation and measured load per phase, at its limit or not); a live chart of those
// over time; each EVSE's allocation with the balancer's reason; and the recent
// allocation decisions. Operators edit it, push a measured base load, ask for a
// rebalance or delete it. `siteEdit` is the editor's page (/sites/:id/edit).

import { api, seg } from "../api.js";
import { confirmDialog } from "../components/dialog.js";
import { attempt, badge, errorBox } from "../components/notice.js";
import { field, h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { go, href } from "../router.js";
import { can } from "../session.js";
import { circuitTree, siteEditor } from "./site/editor.js";
import { evseTable, reasonText, siteChart, statusView } from "./site/live.js";

const MEMBER_EVENTS = ["transaction.started", "transaction.updated", "transaction.ended",
  "station.connected", "station.disconnected"];
const SITE_EVENTS = ["site.at_limit", "site.below_limit", "site.allocated", "site.updated"];
const POLL_MS = 10000; // the balancer's periodic tick is not an event: poll as well

export function gridText(site) {
  const g = site.grid_limit || {};
  if (g.value === null || g.value === undefined) return fmt.DASH;
  return g.unit === "kW" ? `${fmt.number(g.value, 1)} kW in total` : `${fmt.number(g.value, 1)} A per phase`;
}

function baseText(site) {
  const b = site.base_load || {};
  if (b.mode === "fixed") return `fixed, ${fmt.number(b.fixed_a, 1)} A per phase`;
  if (b.mode === "measured") {
    if (!b.meter?.station_id) return "measured (pushed through the API)";
    return `measured by ${b.meter.station_id} EVSE ${b.meter.evse_id ?? 0}${b.meter.includes_evs ? " (at the grid connection, chargers subtracted)" : ""}`;
  }
  return "none";
}

function memberTable(site) {
  const circuits = new Map((site.circuits || []).map((c) => [String(c.id), c]));
  const members = site.members || [];
  return h("div", { class: "table-scroll" }, h("table", { class: "data" },
    h("caption", { class: "visually-hidden" }, "Members"),
    h("thead", {}, h("tr", {}, ["Station", "EVSE", "Circuit", "Phases", "Rotation", "Min", "Max", "Priority"]
      .map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, members.length === 0
      ? h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No members yet: edit the site to add stations."))
      : members.map((m) => h("tr", {},
        h("td", { "data-label": "Station" }, h("a", { href: href(`/stations/${seg(m.station_id)}`, { tab: "charging" }) }, m.station_id)),
        h("td", { "data-label": "EVSE" }, m.evse_id === null || m.evse_id === undefined ? "every EVSE" : String(m.evse_id)),
        h("td", { "data-label": "Circuit" }, m.circuit_id === null || m.circuit_id === undefined ? "grid connection"
          : circuits.get(String(m.circuit_id))?.name || String(m.circuit_id)),
        h("td", { "data-label": "Phases" }, fmt.text(m.phases)),
        h("td", { "data-label": "Rotation" }, fmt.text(m.phase_rotation)),
        h("td", { class: "num", "data-label": "Min" }, `${fmt.number(m.min_a, 1)} A`),
        h("td", { class: "num", "data-label": "Max" }, `${fmt.number(m.max_a, 1)} A`),
        h("td", { class: "num", "data-label": "Priority" }, fmt.text(m.priority)))))));
}

function settingsView(site) {
  const tree = circuitTree(site.circuits || [], (c) => `${c.name || c.id}: ${fmt.number(c.limit_a, 1)} A`);
  return [
    h("dl", { class: "props" },
      h("dt", {}, "Grid limit"), h("dd", {}, gridText(site)),
      h("dt", {}, "Phases"), h("dd", {}, fmt.text(site.phases)),
      h("dt", {}, "Voltage"), h("dd", {}, site.voltage ? `${fmt.number(site.voltage)} V` : fmt.DASH),
      h("dt", {}, "Base load"), h("dd", {}, baseText(site)),
      h("dt", {}, "Balancing"), h("dd", {}, badge(site.enabled === false ? "disabled" : "enabled")),
      Object.keys(site.token_priorities || {}).length ? [h("dt", {}, "Driver priorities"),
        h("dd", {}, Object.entries(site.token_priorities).map(([t, p]) => `${t}: ${p}`).join(", "))] : null),
    h("h3", {}, "Circuits"),
    h("div", { class: "circuit-tree" }, h("ul", {}, h("li", {}, `Grid connection: ${gridText(site)}`, tree))),
    h("h3", {}, "Members"),
    memberTable(site),
  ];
}

/** The recent decisions (GET /sites/{id}/allocations), newest first: one line each
 *  (when, why it was computed, at the limit, how many EVSEs charge), opened for the
 *  EVSEs and the balancer's reason for each. */
function decisionsView(items, opened) {
  if (!items.length) return h("p", { class: "muted" }, "No allocation decisions yet.");
  return h("ol", { class: "site-decisions" }, items.map((d, i) => {
    const at = d.computed_at || d.at;
    const evses = d.evses || [];
    const count = (state) => evses.filter((e) => e.state === state).length;
    const counts = ["charging", "paused", "failsafe"].map((st) => [st, count(st)]).filter(([, n]) => n)
      .map(([st, n]) => `${n} ${st}`).join(", ") || "no EVSE active";
    const key = String(d.id ?? at);
    const open = opened.has(key) || (i === 0 && !opened.has(`closed:${key}`));
    // What the user opens or closes (a click or Enter on the summary) is kept across the
    // live refreshes that redraw the list.
    const remember = (event) => {
      const willOpen = !event.currentTarget.parentElement.open;
      opened.delete(key);
      opened.delete(`closed:${key}`);
      opened.add(willOpen ? key : `closed:${key}`);
    };
    return h("li", {}, h("details", { open },
      h("summary", { onclick: remember }, at ? h("time", { datetime: at, title: fmt.time(at) }, fmt.time(at)) : "–",
        d.trigger ? h("span", { class: "muted" }, ` · ${d.trigger}`) : null,
        ` · ${counts}`,
        d.at_limit ? [" ", badge("At limit", "badge-at-limit")] : null),
      evses.length ? h("ul", {}, evses.map((e) => h("li", {},
        h("strong", {}, `${e.station_id} EVSE ${e.evse_id}`), " ",
        e.state && e.state !== "charging" ? [badge(e.state), " "] : null,
        reasonText(e.reason)))) : null));
  }));
}

async function baseLoadPush(path, done) {
  const inputs = ["l1", "l2", "l3"].map((k) => h("input", { type: "number", name: k, min: 0, step: "any", required: true, autocomplete: "off" }));
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", {
    class: "inline-form", "aria-label": "Measured base load",
    onsubmit: async (event) => {
      event.preventDefault();
      const body = Object.fromEntries(inputs.map((i) => [i.name, Number(i.value)]));
      try {
        await api.post(`${path}/base-load`, body);
        replace(out, h("p", { role: "status" }, "Base load received."));
        done();
      } catch (err) {
        replace(out, errorBox(err));
      }
    },
  }, inputs.map((i) => field(`${i.name.toUpperCase()} (A)`, i)), h("button", { type: "submit" }, "Send base load"));
  return h("div", {}, form, out);
}

export default {
  path: "/sites/:id",
  title: (params) => `Site ${params.id}`,

  async render(root, ctx) {
    const id = ctx.params.id;
    const path = `/sites/${seg(id)}`;
    let site;
    try {
      site = await api.get(path);
    } catch (err) {
      if (err.status !== 404) throw err;
      root.append(h("h1", {}, "Site ", id),
        h("p", { role: "alert" }, "There is no such site (it may have been deleted). ", h("a", { href: href("/sites") }, "All sites")));
      return;
    }
    if (!ctx.alive) return;
    document.title = `${site.name} · Ampyre`;

    const statusBox = h("div", { "aria-live": "polite" });
    const evseBox = h("div", { class: "table-scroll" });
    const decisions = h("div");
    const chart = siteChart({ load: (since) => api.get(`${path}/series`, { since }), phases: site.phases || 3 });
    ctx.onCleanup(() => chart.destroy());

    const actions = [];
    if (can("operator")) {
      actions.push(
        h("a", { class: "button", href: href(`/sites/${seg(id)}/edit`) }, "Edit"),
        h("button", {
          type: "button",
          onclick: async () => {
            if (await attempt(() => api.post(`${path}/rebalance`), "Rebalanced.") !== undefined) refresh();
          },
        }, "Rebalance now"),
        h("button", {
          type: "button", class: "danger",
          onclick: async () => {
            const ok = await confirmDialog(`Delete site ${site.name}?`,
              "The balancer stops managing its stations; profiles it sent stay on the stations until they expire or are cleared.",
              { confirmLabel: "Delete", danger: true });
            if (ok && await attempt(() => api.del(path), "Site deleted.") !== undefined) go("/sites");
          },
        }, "Delete"));
    }

    root.append(
      h("p", { class: "crumbs" }, h("a", { href: href("/sites") }, "‹ Sites")),
      pageHeader(site.name, ...actions),
      h("div", { class: "grid site-grid" },
        card("Status", statusBox),
        card("Site", settingsView(site))),
      h("section", { class: "card" }, h("h2", {}, "Load over time"), chart.el),
      h("section", { class: "card" }, h("h2", {}, "Allocation per EVSE"), evseBox),
      h("section", { class: "card" }, h("h2", {}, "Recent decisions"), decisions));
    if (can("operator") && site.base_load?.mode === "measured") {
      root.append(card("Push a measured base load", h("p", { class: "muted" }, "For a meter that is not a station: what the building draws now, per phase."),
        await baseLoadPush(path, () => refresh())));
    }

    let statusSeq = 0;
    async function loadStatus() {
      const mine = ++statusSeq;
      try {
        const status = await api.get(`${path}/status`);
        if (mine !== statusSeq || !ctx.alive) return;
        if (!status) {
          // Null until the balancer has computed the site once (or it is disabled).
          const why = site.enabled === false ? "Balancing is disabled for this site." : "Not computed yet: the balancer computes the site within seconds.";
          replace(statusBox, h("p", { class: "muted" }, why));
          replace(evseBox, h("p", { class: "muted" }, why));
          return;
        }
        // Redrawn live: an opened part stays open, a focused link keeps the focus.
        const limitsOpen = statusBox.querySelector("details.site-limits")?.open;
        const focused = evseBox.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
        replace(statusBox, statusView(status, site.phases || 3));
        replace(evseBox, evseTable(status));
        if (limitsOpen) statusBox.querySelector("details.site-limits").open = true;
        if (focused) [...evseBox.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused)?.focus();
      } catch (err) {
        if (mine === statusSeq) replace(statusBox, errorBox(err));
      }
    }
    const opened = new Set(); // decisions the user opened (or closed, "closed:<id>")
    async function loadDecisions() {
      try {
        const page = await api.get(`${path}/allocations`, { limit: 10 });
        if (ctx.alive) replace(decisions, decisionsView(Array.isArray(page) ? page : page.items || [], opened));
      } catch (err) {
        replace(decisions, errorBox(err));
      }
    }
    function refresh() {
      loadStatus();
      chart.refresh();
      loadDecisions();
    }

    // Events refresh at most once a second, however many arrive.
    const members = new Set((site.members || []).map((m) => m.station_id));
    let timer = null;
    const soon = () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (ctx.alive) refresh();
      }, 1000);
    };
    ctx.onCleanup(() => clearTimeout(timer));
    for (const type of MEMBER_EVENTS) {
      ctx.live(type, (event) => {
        if (members.has(event?.station_id)) soon();
      });
    }
    for (const type of SITE_EVENTS) {
      ctx.live(type, (event) => {
        const sid = event?.data?.site_id;
        if (sid === undefined || sid === null || String(sid) === String(id)) soon();
      });
    }
    ctx.live("reset", () => {
      loadStatus();
      chart.reload();
      loadDecisions();
    });
    ctx.every(POLL_MS, refresh);
    await Promise.all([loadStatus(), chart.reload(), loadDecisions()]);
  },
};

/** The editor of an existing site. */
export const siteEdit = {
  path: "/sites/:id/edit",
  title: (params) => `Edit site ${params.id}`,
  role: "operator",

  async render(root, ctx) {
    const path = `/sites/${seg(ctx.params.id)}`;
    const site = await api.get(path);
    if (!ctx.alive) return;
    const editor = siteEditor(site, {
      onSaved: (saved) => go(`/sites/${seg(saved.id ?? site.id)}`),
      onCancel: () => go(`/sites/${seg(site.id)}`),
    });
    root.append(h("p", { class: "crumbs" }, h("a", { href: href(`/sites/${seg(site.id)}`) }, `‹ ${site.name}`)),
      pageHeader(`Edit ${site.name}`), h("section", { class: "card" }, editor.el));
  },
};
