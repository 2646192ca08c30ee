// OCPI commands (issue 20, OCPI 2.2.1 mod_commands), on this page (/roaming/commands):
// those eMSP partners sent us as a CPO (carried out at our stations) and those we sent CPO
// partners as an eMSP, filtered by direction, partner and command, with the CPO's response
// and the Charge Point's result. Operators send a command (roaming/send-command.js).
// `roamingCommand` (/roaming/commands/:id) shows one with its request, and follows it
// until its result comes.

import { api, seg } from "../api.js";
import { pagedTable } from "../components/table.js";
import { field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { can } from "../session.js";
import { jsonDetails, listLoader, partnerLink, partnerNames, subnav, when } from "./roaming/common.js";
import { COMMANDS, commandBadge, sendCommandDialog } from "./roaming/send-command.js";
import { ago, redraw, reloadKeepingFocus, throttled } from "./security.js";

const POLL_MS = 10000;
const DETAIL_POLL_MS = 3000;

export function directionText(direction) {
  return direction === "received" ? "received (we are the CPO)"
    : direction === "sent" ? "sent (we are the eMSP)" : fmt.text(direction);
}

/** Waiting for the Charge Point: accepted, no result yet, the timeout not passed. */
function pending(c) {
  return c.response === "ACCEPTED" && !c.result;
}

function resultCell(c) {
  if (c.result) return commandBadge(c.result);
  return h("span", { class: "muted" }, pending(c) ? "waiting…" : fmt.DASH);
}

function placeText(c) {
  const parts = [];
  if (c.location_id) parts.push(`location ${c.location_id}`);
  const evse = c.request?.evse_uid;
  if (evse) parts.push(`EVSE ${evse}`);
  if (c.station_id) {
    return h("span", {}, parts.length ? `${parts.join(" · ")} · ` : "",
      h("a", { href: href(`/stations/${seg(c.station_id)}`) }, c.station_id),
      c.evse_id !== null && c.evse_id !== undefined ? ` · EVSE ${c.evse_id}` : "");
  }
  if (c.request?.session_id) parts.push(`session ${c.request.session_id}`);
  if (c.request?.reservation_id && c.command === "CANCEL_RESERVATION") parts.push(`reservation ${c.request.reservation_id}`);
  return parts.length ? parts.join(" · ") : fmt.DASH;
}

export default {
  path: "/roaming/commands",
  title: "OCPI commands",

  async render(root, ctx) {
    const names = await partnerNames();
    if (!ctx.alive) return;
    const q = ctx.query;
    const direction = select({ name: "direction" }, [["", "Both directions"], ["received", "Received (we are the CPO)"], ["sent", "Sent (we are the eMSP)"]], q.get("direction") || "");
    const partner = select({ name: "partner_id" }, [["", "All partners"], ...names], q.get("partner_id") || "");
    const command = select({ name: "command" }, [["", "Any command"], ...COMMANDS], q.get("command") || "");
    const notice = h("div");
    const loader = listLoader("/ocpi/commands", notice, "OCPI commands",
      () => ({ direction: direction.value || null, partner_id: partner.value || null, command: command.value || null }),
      (p) => setQuery(p));
    const table = pagedTable({
      caption: "OCPI commands, newest first",
      pageSize: 25,
      empty: "No OCPI command yet.",
      rowKey: (c) => String(c.id),
      filters: [field("Direction", direction), field("Partner", partner), field("Command", command)],
      load: loader.load,
      columns: [
        { key: "created_at", label: "When", class: "nowrap", render: (c) => ago(c.created_at) },
        { key: "command", label: "Command", render: (c) => h("a", { href: href(`/roaming/commands/${seg(c.id)}`) }, `${fmt.text(c.command)} #${c.id}`) },
        { key: "direction", label: "Direction", render: (c) => directionText(c.direction) },
        { key: "partner", label: "Partner", render: (c) => partnerLink(c.partner_id, names) },
        { key: "where", label: "Where", render: placeText },
        { key: "response", label: "Response", render: (c) => commandBadge(c.response, "not delivered") },
        { key: "result", label: "Result", render: resultCell },
      ],
    });
    for (const control of [direction, partner, command]) control.addEventListener("change", () => table.restart());
    const refresh = throttled(ctx, () => {
      if (!loader.state.missing) reloadKeepingFocus(table);
    });
    ctx.every(POLL_MS, refresh);
    ctx.live("reset", refresh);
    const send = can("operator") ? h("button", {
      type: "button", class: "primary",
      onclick: async () => {
        if (await sendCommandDialog()) table.reload();
      },
    }, "Send command…") : null;
    root.append(
      subnav("/roaming/commands"),
      pageHeader("OCPI commands", send),
      h("p", { class: "muted" },
        "Commands eMSP partners sent us are carried out at our stations; commands we send CPO partners act for one of our id tokens. ",
        "The CPO answers at once (response); the Charge Point's result comes later."),
      notice, table.el);
  },
};

// ------------------------------------------------------------------ one command

function commandView(c, names) {
  const sent = c.direction === "sent";
  return [
    h("dl", { class: "props" },
      h("dt", {}, "Command"), h("dd", {}, fmt.text(c.command)),
      h("dt", {}, "Direction"), h("dd", {}, directionText(c.direction)),
      h("dt", {}, "Partner"), h("dd", {}, partnerLink(c.partner_id, names)),
      h("dt", {}, "Uid"), h("dd", {}, h("code", { class: "wrap" }, fmt.text(c.uid))),
      h("dt", {}, "Where"), h("dd", {}, placeText(c)),
      h("dt", {}, "Connector"), h("dd", {}, fmt.text(c.connector_id)),
      h("dt", {}, "Transaction"), h("dd", {}, c.transaction_id === null || c.transaction_id === undefined ? fmt.DASH
        : h("a", { href: href(`/transactions/${seg(c.transaction_id)}`) }, `#${c.transaction_id}`)),
      h("dt", {}, "Reservation"), h("dd", {}, [c.ocpi_reservation_id ? `OCPI ${c.ocpi_reservation_id}` : null,
        c.reservation_id !== null && c.reservation_id !== undefined ? `station ${c.reservation_id}` : null].filter(Boolean).join(" · ") || fmt.DASH),
      h("dt", {}, "Created"), h("dd", {}, when(c.created_at)),
      h("dt", {}, "Updated"), h("dd", {}, when(c.updated_at))),
    h("h3", {}, sent ? "The CPO's response" : "Our response"),
    h("dl", { class: "props" },
      h("dt", {}, "Response"), h("dd", {}, commandBadge(c.response, "not delivered")),
      h("dt", {}, "Message"), h("dd", {}, fmt.text(c.response_message)),
      h("dt", {}, "Result due by"), h("dd", {}, when(c.response === "ACCEPTED" ? c.timeout_at : null))),
    h("h3", {}, "The Charge Point's result"),
    h("dl", { class: "props" },
      h("dt", {}, "Result"), h("dd", {}, c.result ? commandBadge(c.result)
        : h("span", { class: "muted" }, pending(c) ? "waiting…" : "none")),
      h("dt", {}, "Message"), h("dd", {}, fmt.text(c.result_message)),
      h("dt", {}, "Came"), h("dd", {}, when(c.result_at))),
  ];
}

export const roamingCommand = {
  path: "/roaming/commands/:id",
  title: (params) => `OCPI command ${params.id}`,

  async render(root, ctx) {
    const path = `/ocpi/commands/${seg(ctx.params.id)}`;
    let c;
    try {
      c = await api.get(path);
    } catch (err) {
      if (err.status !== 404 && err.status !== 422) throw err;
      root.append(subnav("/roaming/commands"), h("h1", {}, "OCPI command ", ctx.params.id),
        h("p", { role: "alert" }, "There is no such command. ", h("a", { href: href("/roaming/commands") }, "All OCPI commands")));
      return;
    }
    if (!ctx.alive) return;
    const names = await partnerNames();
    if (!ctx.alive) return;
    const info = h("div");
    const raw = h("div");
    function draw() {
      redraw(info, commandView(c, names));
      redraw(raw, jsonDetails(c.direction === "sent" ? "The request we sent" : "The request we received", c.request || {}, "command-json"));
    }
    draw();
    root.append(
      subnav("/roaming/commands"),
      h("p", { class: "crumbs" }, h("a", { href: href("/roaming/commands") }, "‹ OCPI commands")),
      pageHeader(`OCPI command ${c.id}`),
      card(`${fmt.text(c.command)}`, info),
      card("OCPI request", raw));
    if (pending(c)) {
      const refresh = throttled(ctx, async () => {
        if (!pending(c)) return;
        try {
          c = await api.get(path);
          if (ctx.alive) draw();
        } catch {
          // the next tick tries again
        }
      });
      ctx.every(DETAIL_POLL_MS, refresh);
    }
  },
};
