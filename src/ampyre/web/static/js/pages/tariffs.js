// Tariffs (issue 20, OCPI 2.2.1 mod_tariffs): our tariffs (this page, /roaming/tariffs)
// priced by Ampyre's tariff engine for OCPP cost messages, sessions and CDRs and served
// and pushed to eMSP partners; and the tariffs CPO partners sent us (?view=received).
// `tariffPage` (/roaming/tariffs/:id) shows one tariff in words with a price preview of
// a sample session; operators edit it (tariffs-edit.js).

import { api, seg } from "../api.js";
import { confirmDialog } from "../components/dialog.js";
import { attempt, badge } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { go, href, setQuery } from "../router.js";
import { can } from "../session.js";
import { jsonDetails, listLoader, partnerLink, partnerNames, priceText, subnav, when } from "./roaming/common.js";
import { pricePreview } from "./roaming/preview.js";
import { elementsView, tariffSummary } from "./roaming/tariff-text.js";

function scopeText(record) {
  const stations = record.station_ids || [];
  return h("span", {},
    record.is_default ? [badge("default", "badge-ok"), " "] : null,
    stations.length ? `${stations.length === 1 ? "station" : "stations"} ${stations.join(", ")}` : (record.is_default ? null : h("span", { class: "muted" }, "not used (no stations, not default)")));
}

function validity(t) {
  if (!t.start_date_time && !t.end_date_time) return "always";
  return `${t.start_date_time ? fmt.time(t.start_date_time) : "…"} – ${t.end_date_time ? fmt.time(t.end_date_time) : "…"}`;
}

function oursTable() {
  const notice = h("div");
  const loader = listLoader("/tariffs", notice, "Tariffs");
  const table = pagedTable({
    caption: "Our tariffs",
    pageSize: 25,
    empty: "No tariffs yet: sessions are not priced.",
    rowKey: (r) => String(r.tariff?.id),
    load: loader.load,
    columns: [
      { key: "id", label: "Tariff", render: (r) => h("a", { href: href(`/roaming/tariffs/${seg(r.tariff?.id)}`) }, fmt.text(r.tariff?.id)) },
      { key: "prices", label: "Prices", render: (r) => tariffSummary(r.tariff) },
      { key: "scope", label: "Applies to", render: scopeText },
      { key: "type", label: "Type", render: (r) => fmt.text(r.tariff?.type) },
      { key: "valid", label: "Valid", render: (r) => validity(r.tariff || {}) },
      { key: "updated", label: "Updated", render: (r) => when(r.tariff?.last_updated) },
    ],
  });
  return h("div", {}, notice, table.el);
}

function receivedTable(names, query) {
  const notice = h("div");
  const partner = select({ name: "partner_id" }, [["", "All partners"], ...names.entries()], query.get("partner_id") || "");
  const loader = listLoader("/ocpi/received/tariffs", notice, "Received tariffs",
    () => ({ partner_id: partner.value || null }), (p) => setQuery({ view: "received", ...p }));
  const table = pagedTable({
    caption: "Tariffs received from partners",
    pageSize: 25,
    empty: "No partner has sent a tariff yet.",
    rowKey: (r) => String(r.id),
    filters: [field("Partner", partner)],
    load: loader.load,
    columns: [
      { key: "partner", label: "From", render: (r) => partnerLink(r.partner_id, names) },
      { key: "party", label: "Party", render: (r) => `${fmt.text(r.tariff?.country_code)}/${fmt.text(r.tariff?.party_id)}` },
      { key: "id", label: "Tariff", render: (r) => h("code", {}, fmt.text(r.tariff?.id)) },
      { key: "prices", label: "Prices", render: (r) => tariffSummary(r.tariff) },
      { key: "received", label: "Received", render: (r) => when(r.received_at) },
      { key: "json", label: "Tariff", render: (r) => jsonDetails("OCPI object", r.tariff, `rt-${r.id}`) },
    ],
  });
  partner.addEventListener("change", () => table.restart());
  return h("div", {}, notice, table.el);
}

export default {
  path: "/roaming/tariffs",
  title: "Tariffs",

  async render(root, ctx) {
    const received = ctx.query.get("view") === "received";
    const names = received ? await partnerNames() : new Map();
    if (!ctx.alive) return;
    const add = can("operator") && !received ? h("a", { class: "button primary", href: href("/roaming/tariffs/new") }, "New tariff") : null;
    root.append(
      subnav("/roaming/tariffs"),
      pageHeader("Tariffs", add),
      h("div", { class: "tabs", role: "navigation", "aria-label": "Whose tariffs" },
        h("a", { href: href("/roaming/tariffs"), "aria-current": received ? null : "page" }, "Ours"),
        h("a", { href: href("/roaming/tariffs", { view: "received" }), "aria-current": received ? "page" : null }, "From partners")),
      received
        ? h("p", { class: "muted" }, "What CPO partners pushed to us (OCPI tariffs receiver): the prices our drivers pay on their networks.")
        : h("p", { class: "muted" }, "Ampyre prices every session with the tariff of its station (else the default tariff): the cost in OCPP cost messages, in OCPI sessions and in CDRs. eMSP partners get these tariffs too."),
      received ? receivedTable(names, ctx.query) : oursTable());
  },
};

/** One of our tariffs: in words, its OCPI object, and a price preview. */
export const tariffPage = {
  path: "/roaming/tariffs/:id",
  title: (params) => `Tariff ${params.id}`,

  async render(root, ctx) {
    const id = ctx.params.id;
    const path = `/tariffs/${seg(id)}`;
    let record;
    try {
      record = await api.get(path);
    } catch (err) {
      if (err.status !== 404) throw err;
      root.append(subnav("/roaming/tariffs"), h("h1", {}, "Tariff ", id),
        h("p", { role: "alert" }, "There is no such tariff (it may have been deleted). ", h("a", { href: href("/roaming/tariffs") }, "All tariffs")));
      return;
    }
    if (!ctx.alive) return;
    const t = record.tariff || {};
    const actions = can("operator") ? [
      h("a", { class: "button", href: href(`/roaming/tariffs/${seg(id)}/edit`) }, "Edit"),
      h("button", {
        type: "button", class: "danger",
        onclick: async () => {
          const ok = await confirmDialog(`Delete tariff ${t.id}?`,
            "Stations it applied to fall back to the default tariff; eMSP partners are told it is gone. Sessions already priced keep their cost.",
            { confirmLabel: "Delete", danger: true });
          if (ok && await attempt(() => api.del(path), "Tariff deleted.") !== undefined) go("/roaming/tariffs");
        },
      }, "Delete"),
    ] : [];
    const preview = pricePreview({ tariffId: () => String(t.id ?? id) });
    root.append(
      subnav("/roaming/tariffs"),
      h("p", { class: "crumbs" }, h("a", { href: href("/roaming/tariffs") }, "‹ Tariffs")),
      pageHeader(`Tariff ${fmt.text(t.id)}`, ...actions),
      h("div", { class: "grid roaming-grid" },
        card("Tariff",
          h("dl", { class: "props" },
            h("dt", {}, "Currency"), h("dd", {}, fmt.text(t.currency)),
            h("dt", {}, "Applies to"), h("dd", {}, scopeText(record)),
            h("dt", {}, "Type"), h("dd", {}, fmt.text(t.type)),
            h("dt", {}, "Valid"), h("dd", {}, validity(t)),
            t.min_price ? [h("dt", {}, "Min price"), h("dd", {}, priceText(t.min_price, t.currency))] : null,
            t.max_price ? [h("dt", {}, "Max price"), h("dd", {}, priceText(t.max_price, t.currency))] : null,
            (t.tariff_alt_text || []).length ? [h("dt", {}, "Text"), h("dd", {}, t.tariff_alt_text.map((d) => `${d.text} (${d.language})`).join("; "))] : null,
            t.tariff_alt_url ? [h("dt", {}, "Explanation"), h("dd", {}, h("code", { class: "wrap" }, String(t.tariff_alt_url)))] : null,
            h("dt", {}, "Updated"), h("dd", {}, when(t.last_updated))),
          h("h3", {}, "Elements"), elementsView(t),
          jsonDetails("The OCPI object partners get", t, "tariff-json")),
        card("Price preview", h("p", { class: "muted" }, "A sample session priced with this tariff."), preview.el)));
    preview.now();
  },
};
