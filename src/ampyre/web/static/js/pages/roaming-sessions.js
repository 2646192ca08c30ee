// Roaming sessions (issue 20, OCPI 2.2.1 mod_sessions): the sessions of other eMSPs'
// drivers at our stations (ours: pushed to the token's owner as they start, update and
// end) and of our drivers at partners' stations (received), on this page
// (/roaming/sessions), filtered by side, status and partner; `roamingSession`
// (/roaming/sessions/:id) shows one with its cost, charging periods and OCPI object.

import { api, seg } from "../api.js";
import { pagedTable } from "../components/table.js";
import { field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { jsonDetails, listLoader, ocpiBadge, partnerLink, partnerNames, quantity, subnav, when } from "./roaming/common.js";
import { costBreakdown, periodsTable, totalCell } from "./roaming/cost.js";
import { reloadKeepingFocus, redraw, throttled } from "./security.js";

const POLL_MS = 10000;
const TX_EVENTS = ["transaction.started", "transaction.updated", "transaction.ended"];
const STATUSES = ["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"];

export function sideText(side) {
  return side === "received" ? "our driver, their station" : side === "ours" ? "their driver, our station" : fmt.text(side);
}

function tokenText(s) {
  const t = s.session?.cdr_token;
  const owner = t ? `${t.country_code}/${t.party_id}` : null;
  return h("span", {}, h("code", {}, fmt.text(s.token_uid ?? t?.uid)), owner ? h("small", { class: "muted" }, ` (${owner})`) : null);
}

function transactionLink(s) {
  if (s.transaction_id === null || s.transaction_id === undefined) return fmt.DASH;
  return h("a", { href: href(`/transactions/${seg(s.transaction_id)}`) }, `#${s.transaction_id}`);
}

export default {
  path: "/roaming/sessions",
  title: "Roaming sessions",

  async render(root, ctx) {
    const names = await partnerNames();
    if (!ctx.alive) return;
    const q = ctx.query;
    const side = select({ name: "side" }, [["", "Both"], ["ours", "At our stations"], ["received", "Of our drivers elsewhere"]], q.get("side") || "");
    const status = select({ name: "status" }, [["", "Any status"], ...STATUSES], q.get("status") || "");
    const partner = select({ name: "partner_id" }, [["", "All partners"], ...names], q.get("partner_id") || "");
    const notice = h("div");
    const loader = listLoader("/ocpi/sessions", notice, "Roaming sessions",
      () => ({ side: side.value || null, status: status.value || null, partner_id: partner.value || null }),
      (p) => setQuery(p));
    const table = pagedTable({
      caption: "Roaming sessions, newest first",
      pageSize: 25,
      empty: "No roaming sessions yet.",
      rowKey: (s) => String(s.id),
      filters: [field("Side", side), field("Status", status), field("Partner", partner)],
      load: loader.load,
      columns: [
        { key: "session", label: "Session", render: (s) => h("a", { href: href(`/roaming/sessions/${seg(s.id)}`) }, fmt.text(s.session_id)) },
        { key: "side", label: "Who, where", render: (s) => sideText(s.side) },
        { key: "partner", label: "Partner", render: (s) => partnerLink(s.partner_id, names) },
        { key: "token", label: "Token", render: tokenText },
        { key: "status", label: "Status", render: (s) => ocpiBadge(s.status) },
        { key: "start", label: "Started", render: (s) => when(s.start_date_time) },
        { key: "end", label: "Ended", render: (s) => when(s.end_date_time) },
        { key: "kwh", label: "Energy", class: "num", render: (s) => quantity(s.kwh, "kWh") },
        { key: "cost", label: "Cost", class: "num", render: (s) => totalCell(s.total_cost, s.currency) },
        { key: "transaction", label: "Transaction", render: transactionLink },
      ],
    });
    for (const control of [side, status, partner]) control.addEventListener("change", () => table.restart());
    const refresh = throttled(ctx, () => {
      if (!loader.state.missing) reloadKeepingFocus(table);
    });
    for (const type of TX_EVENTS) ctx.live(type, refresh);
    ctx.live("reset", refresh);
    ctx.every(POLL_MS, refresh);
    root.append(
      subnav("/roaming/sessions"),
      pageHeader("Roaming sessions"),
      h("p", { class: "muted" },
        "Sessions at our stations with a token of another eMSP are sent to that eMSP as they start, update and end; sessions of our drivers at a partner's stations are what that CPO sent us."),
      notice, table.el);
  },
};

function sessionView(s) {
  const o = s.session || {};
  const loc = o.location_id ? `${o.location_id}${o.evse_uid ? ` · EVSE ${o.evse_uid}` : ""}${o.connector_id ? ` · connector ${o.connector_id}` : ""}` : null;
  return [
    h("dl", { class: "props" },
      h("dt", {}, "Status"), h("dd", {}, ocpiBadge(s.status)),
      h("dt", {}, "Who, where"), h("dd", {}, sideText(s.side)),
      h("dt", {}, "Party"), h("dd", {}, `${fmt.text(s.country_code)}/${fmt.text(s.party_id)}`),
      h("dt", {}, "Token"), h("dd", {}, tokenText(s)),
      h("dt", {}, "Authorized by"), h("dd", {}, fmt.text(o.auth_method)),
      h("dt", {}, "Location"), h("dd", {}, fmt.text(loc)),
      h("dt", {}, "Started"), h("dd", {}, when(s.start_date_time)),
      h("dt", {}, "Ended"), h("dd", {}, when(s.end_date_time)),
      h("dt", {}, "Energy"), h("dd", {}, quantity(s.kwh, "kWh")),
      h("dt", {}, "Transaction"), h("dd", {}, transactionLink(s)),
      h("dt", {}, "Updated"), h("dd", {}, when(s.last_updated))),
  ];
}

export const roamingSession = {
  path: "/roaming/sessions/:id",
  title: (params) => `Roaming session ${params.id}`,

  async render(root, ctx) {
    const path = `/ocpi/sessions/${seg(ctx.params.id)}`;
    let s;
    try {
      s = await api.get(path);
    } catch (err) {
      if (err.status !== 404) throw err;
      root.append(subnav("/roaming/sessions"), h("h1", {}, "Roaming session ", ctx.params.id),
        h("p", { role: "alert" }, "There is no such session. ", h("a", { href: href("/roaming/sessions") }, "All roaming sessions")));
      return;
    }
    if (!ctx.alive) return;
    const names = await partnerNames();
    if (!ctx.alive) return;
    const info = h("div");
    const cost = h("div");
    const periods = h("div");
    const raw = h("div");
    const partnerBox = h("p", {}, "Partner: ", partnerLink(s.partner_id, names));
    function draw() {
      redraw(info, sessionView(s));
      redraw(cost, s.total_cost || s.session?.total_cost
        ? costBreakdown({ ...s.session, total_cost: s.total_cost ?? s.session?.total_cost }, s.currency || s.session?.currency)
        : h("p", { class: "muted" }, "Not priced (no tariff applies, or not yet)."));
      redraw(periods, periodsTable(s.session?.charging_periods, s.currency));
      redraw(raw, jsonDetails("The OCPI Session object", s.session || {}, "session-json"));
    }
    draw();
    root.append(
      subnav("/roaming/sessions"),
      h("p", { class: "crumbs" }, h("a", { href: href("/roaming/sessions") }, "‹ Roaming sessions")),
      pageHeader(`Roaming session ${fmt.text(s.session_id)}`),
      partnerBox,
      h("div", { class: "grid roaming-grid" }, card("Session", info), card("Cost", cost)),
      card("Charging periods", periods),
      card("OCPI object", raw));
    if (s.status === "ACTIVE" || s.status === "PENDING") {
      const refresh = throttled(ctx, async () => {
        try {
          s = await api.get(path);
          if (ctx.alive) draw();
        } catch {
          // the next tick tries again
        }
      });
      ctx.every(POLL_MS, refresh);
      for (const type of TX_EVENTS) ctx.live(type, refresh);
    }
  },
};
