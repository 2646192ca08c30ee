// CDRs (issue 20, OCPI 2.2.1 mod_cdrs): the charge detail records Ampyre made when a
// transaction ended (this page, /roaming/cdrs): priced by the tariff engine, immutable,
// sent to the token's eMSP when it roams; corrections are credit CDRs. And the CDRs CPO
// partners sent us for our drivers (?view=received). A CDR's page: cdrs-detail.js.

import { seg } from "../api.js";
import { badge } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { hours, listLoader, partnerLink, partnerNames, quantity, subnav, when } from "./roaming/common.js";
import { totalCell } from "./roaming/cost.js";
import { reloadKeepingFocus, throttled } from "./security.js";

const POLL_MS = 15000;

/** A credit CDR, a credited one, or neither. */
export function creditBadge(c) {
  if (c.credit) return badge("credit", "badge-expired");
  if (c.credited_by) return badge("credited", "badge-unknown");
  return null;
}

function tokenText(c) {
  return h("span", {}, h("code", {}, fmt.text(c.token_uid ?? c.cdr?.cdr_token?.uid)),
    c.token_owner ? h("small", { class: "muted" }, ` (${c.token_owner})`) : null);
}

export default {
  path: "/roaming/cdrs",
  title: "CDRs",

  async render(root, ctx) {
    const received = ctx.query.get("view") === "received";
    const names = await partnerNames();
    if (!ctx.alive) return;
    const notice = h("div");
    const q = ctx.query;
    const credit = received ? null : select({ name: "credit" }, [["", "All CDRs"], ["false", "Not credit CDRs"], ["true", "Credit CDRs only"]], q.get("credit") || "");
    // Ours are filtered by credit and transaction, received ones by the partner that sent them.
    const partner = received ? select({ name: "partner_id" }, [["", "All partners"], ...names], q.get("partner_id") || "") : null;
    const transaction = received ? null : h("input", {
      type: "number", name: "transaction_id", min: 1, step: 1, autocomplete: "off", value: q.get("transaction_id") || "",
    });
    const loader = listLoader(received ? "/ocpi/received/cdrs" : "/cdrs", notice, received ? "Received CDRs" : "CDRs",
      () => (received ? { partner_id: partner.value || null }
        : { credit: credit.value || null, transaction_id: transaction.value.trim() || null }),
      (p) => setQuery(received ? { view: "received", ...p } : p));
    const detail = (c) => (received ? `/roaming/cdrs/received/${seg(c.id)}` : `/roaming/cdrs/${seg(c.id)}`);
    const table = pagedTable({
      caption: received ? "CDRs received from partners, newest first" : "Our CDRs, newest first",
      pageSize: 25,
      empty: received ? "No partner has sent a CDR yet." : "No CDRs yet.",
      rowKey: (c) => String(c.id),
      filters: received ? [field("Partner", partner)] : [field("Show", credit), field("Transaction", transaction)],
      load: loader.load,
      columns: [
        { key: "cdr", label: "CDR", render: (c) => h("span", {}, h("a", { href: href(detail(c)) }, fmt.text(c.cdr_id)), " ", creditBadge(c)) },
        received ? null : { key: "transaction", label: "Transaction", render: (c) => (c.transaction_id === null || c.transaction_id === undefined
          ? fmt.DASH : h("a", { href: href(`/transactions/${seg(c.transaction_id)}`) }, `#${c.transaction_id}`)) },
        { key: "partner", label: received ? "From" : "Sent to", render: (c) => (c.partner_id === null || c.partner_id === undefined
          ? h("span", { class: "muted" }, "nobody (local)") : partnerLink(c.partner_id, names)) },
        { key: "token", label: "Token", render: tokenText },
        { key: "start", label: "Start", render: (c) => when(c.start_date_time) },
        { key: "end", label: "End", render: (c) => when(c.end_date_time) },
        { key: "energy", label: "Energy", class: "num", render: (c) => quantity(c.total_energy, "kWh") },
        { key: "time", label: "Time", class: "num", render: (c) => hours(c.total_time) },
        { key: "cost", label: "Total cost", class: "num", render: (c) => totalCell(c.total_cost, c.currency) },
      ].filter(Boolean),
    });
    credit?.addEventListener("change", () => table.restart());
    partner?.addEventListener("change", () => table.restart());
    transaction?.addEventListener("input", debounce(() => table.restart(), 300));
    const refresh = throttled(ctx, () => {
      if (!loader.state.missing) reloadKeepingFocus(table);
    });
    ctx.every(POLL_MS, refresh);
    ctx.live("transaction.ended", refresh);
    ctx.live("reset", refresh);
    root.append(
      subnav("/roaming/cdrs"),
      pageHeader("CDRs"),
      h("div", { class: "tabs", role: "navigation", "aria-label": "Whose CDRs" },
        h("a", { href: href("/roaming/cdrs"), "aria-current": received ? null : "page" }, "Ours"),
        h("a", { href: href("/roaming/cdrs", { view: "received" }), "aria-current": received ? "page" : null }, "From partners")),
      received
        ? h("p", { class: "muted" }, "What CPO partners billed for our drivers' sessions on their networks.")
        : h("p", { class: "muted" }, "A charge detail record is made when a priced or roaming transaction ends; it never changes. A wrong one is corrected with a credit CDR (and, if needed, a new one)."),
      notice, table.el);
  },
};
