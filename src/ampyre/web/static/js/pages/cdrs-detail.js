// One CDR (/roaming/cdrs/:id, ours; /roaming/cdrs/received/:id, a partner's): who
// charged where and when, the cost broken down per dimension (fixed, energy, charging
// time, parking time, reservation), the charging periods that justify it, the tariffs
// it was priced with, and the OCPI object as sent. Operators credit one of our CDRs
// (POST /cdrs/{id}/credit): a credit CDR with the negated cost, optionally a new CDR to
// bill again (reissue).

import { api, seg } from "../api.js";
import { formDialog } from "../components/dialog.js";
import { checkbox } from "../components/forms.js";
import { toast } from "../components/notice.js";
import { field, h } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { go, href } from "../router.js";
import { can } from "../session.js";
import { creditBadge } from "./cdrs.js";
import { jsonDetails, partnerLink, partnerNames, subnav, when } from "./roaming/common.js";
import { costBreakdown, periodsTable } from "./roaming/cost.js";
import { elementsView } from "./roaming/tariff-text.js";

function locationText(l) {
  if (!l) return fmt.DASH;
  const place = [l.address, [l.postal_code, l.city].filter(Boolean).join(" "), l.country].filter(Boolean).join(", ");
  return h("span", {}, fmt.text(l.name || l.id), place ? h("br") : null, place || null);
}

function connectorText(l) {
  if (!l) return fmt.DASH;
  const parts = [l.evse_uid ? `EVSE ${l.evse_uid}` : null, l.evse_id ? `(${l.evse_id})` : null,
    l.connector_id ? `connector ${l.connector_id}` : null,
    [l.connector_standard, l.connector_format, l.connector_power_type].filter(Boolean).join(" ") || null].filter(Boolean);
  return parts.join(" · ") || fmt.DASH;
}

function whoWhere(c, names) {
  const o = c.cdr || {};
  const t = o.cdr_token || {};
  return h("dl", { class: "props" },
    h("dt", {}, "CDR id"), h("dd", {}, h("code", {}, fmt.text(c.cdr_id ?? o.id)), " ", creditBadge(c)),
    h("dt", {}, "Party"), h("dd", {}, `${fmt.text(c.country_code ?? o.country_code)}/${fmt.text(c.party_id ?? o.party_id)}`),
    h("dt", {}, c.side === "received" ? "From" : "Sent to"), h("dd", {}, c.partner_id === null || c.partner_id === undefined
      ? "nobody (a local session)" : partnerLink(c.partner_id, names)),
    h("dt", {}, "Token"), h("dd", {}, h("code", {}, fmt.text(t.uid ?? c.token_uid)),
      t.country_code ? h("small", { class: "muted" }, ` (${t.country_code}/${t.party_id}, ${fmt.text(t.type)}, contract ${fmt.text(t.contract_id)})`) : null),
    h("dt", {}, "Authorized by"), h("dd", {}, fmt.text(o.auth_method)),
    h("dt", {}, "Location"), h("dd", {}, locationText(o.cdr_location)),
    h("dt", {}, "Connector"), h("dd", {}, connectorText(o.cdr_location)),
    h("dt", {}, "Start"), h("dd", {}, when(c.start_date_time ?? o.start_date_time)),
    h("dt", {}, "End"), h("dd", {}, when(c.end_date_time ?? o.end_date_time)),
    c.transaction_id !== null && c.transaction_id !== undefined
      ? [h("dt", {}, "Transaction"), h("dd", {}, h("a", { href: href(`/transactions/${seg(c.transaction_id)}`) }, `#${c.transaction_id}`))] : null,
    o.session_id ? [h("dt", {}, "Session"), h("dd", {}, h("code", {}, String(o.session_id)))] : null,
    o.credit_reference_id || c.credit_reference_id ? [h("dt", {}, "Credit reference"), h("dd", {}, String(o.credit_reference_id || c.credit_reference_id))] : null,
    c.credited_by ? [h("dt", {}, "Credited by"), h("dd", {}, "CDR ", h("code", {}, String(c.credited_by)),
      c.transaction_id !== null && c.transaction_id !== undefined
        ? [" (", h("a", { href: href("/roaming/cdrs", { transaction_id: c.transaction_id }) }, "the CDRs of this transaction"), ")"] : null)] : null,
    o.remark ? [h("dt", {}, "Remark"), h("dd", {}, String(o.remark))] : null,
    h("dt", {}, "Updated"), h("dd", {}, when(c.last_updated ?? o.last_updated)));
}

async function credit(c) {
  const reason = h("input", { name: "reason", maxlength: 255, autocomplete: "off" });
  const reissue = checkbox("Issue a new CDR for the same session (to bill it again, corrected)", false);
  const answer = await formDialog(`Credit CDR ${c.cdr_id}?`, () => [
    h("p", {}, "A credit CDR with the negated cost is made and sent where this one went. This cannot be undone."),
    field("Reason", reason, "Optional; kept as the credit CDR's remark."),
    reissue.el,
  ], () => api.post(`/cdrs/${seg(c.id)}/credit`, { reason: reason.value.trim() || null, reissue: reissue.input.checked }),
  { submitLabel: "Credit", danger: true });
  if (!answer) return;
  toast(answer.reissued ? "Credited, and a new CDR issued." : "Credited.", "ok");
  go(`/roaming/cdrs/${seg(answer.credit?.id ?? c.id)}`);
}

async function show(root, ctx, { received }) {
  const id = ctx.params.id;
  const path = received ? `/ocpi/received/cdrs/${seg(id)}` : `/cdrs/${seg(id)}`;
  const list = received ? href("/roaming/cdrs", { view: "received" }) : href("/roaming/cdrs");
  let c;
  try {
    c = await api.get(path);
  } catch (err) {
    if (err.status !== 404) throw err;
    root.append(subnav("/roaming/cdrs"), h("h1", {}, "CDR ", id),
      h("p", { role: "alert" }, "There is no such CDR. ", h("a", { href: list }, "All CDRs")));
    return;
  }
  if (!ctx.alive) return;
  const names = await partnerNames();
  if (!ctx.alive) return;
  const o = c.cdr || {};
  const currency = c.currency || o.currency;
  const actions = !received && can("operator") && !c.credit && !c.credited_by
    ? [h("button", { type: "button", class: "danger", onclick: () => credit(c) }, "Credit")] : [];
  const tariffs = Array.isArray(o.tariffs) ? o.tariffs : [];
  root.append(
    subnav("/roaming/cdrs"),
    h("p", { class: "crumbs" }, h("a", { href: list }, received ? "‹ Received CDRs" : "‹ CDRs")),
    pageHeader(`CDR ${fmt.text(c.cdr_id ?? o.id)}`, ...actions),
    h("div", { class: "grid roaming-grid" },
      card("Session", whoWhere(c, names)),
      card("Cost", costBreakdown({ ...o, total_cost: c.total_cost ?? o.total_cost }, currency))),
    card("Charging periods", periodsTable(o.charging_periods, currency)),
    card("Tariffs used", tariffs.length ? tariffs.map((t) => h("div", { class: "cdr-tariff" },
      h("h3", {}, "Tariff ", h("code", {}, fmt.text(t.id))), elementsView(t)))
      : h("p", { class: "muted" }, "No tariff in the CDR.")),
    card("OCPI object", jsonDetails("The OCPI CDR object", o, "cdr-json")));
}

export default {
  path: "/roaming/cdrs/:id",
  title: (params) => `CDR ${params.id}`,
  render: (root, ctx) => show(root, ctx, { received: false }),
};

export const receivedCdr = {
  path: "/roaming/cdrs/received/:id",
  title: (params) => `Received CDR ${params.id}`,
  render: (root, ctx) => show(root, ctx, { received: true }),
};
