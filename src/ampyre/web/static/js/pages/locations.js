// Locations (issue 20, OCPI 2.2.1 mod_locations): our locations (this page,
// /roaming/locations), each a place with an address and coordinates whose assigned
// stations make its EVSEs; roaming ones are served to and pushed to eMSP partners. The
// locations CPO partners sent us are at ?view=received. Operators create a location
// (`newLocation`, /roaming/locations/new).

import { api, seg } from "../api.js";
import { badge, errorBox, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { go, href, setQuery } from "../router.js";
import { can } from "../session.js";
import { jsonDetails, listLoader, partnerLink, partnerNames, subnav, when } from "./roaming/common.js";
import { locationForm } from "./roaming/location-form.js";

function placeText(l) {
  return [l.city, l.country].filter(Boolean).join(", ") || fmt.DASH;
}

function flags(l) {
  return h("span", { class: "badges" },
    l.roaming === false ? badge("not roaming", "badge-unknown") : badge("roaming", "badge-ok"),
    " ", l.publish === false ? badge("not published", "badge-unknown") : null);
}

function oursTable() {
  const notice = h("div");
  const loader = listLoader("/locations", notice, "Locations");
  const table = pagedTable({
    caption: "Our locations",
    pageSize: 25,
    empty: "No locations yet.",
    rowKey: (l) => String(l.id),
    load: loader.load,
    columns: [
      { key: "name", label: "Location", render: (l) => h("a", { href: href(`/roaming/locations/${seg(l.id)}`) }, fmt.text(l.name || l.id)) },
      { key: "id", label: "Id", render: (l) => h("code", {}, fmt.text(l.id)) },
      { key: "address", label: "Address", render: (l) => fmt.text(l.address) },
      { key: "place", label: "City", render: placeText },
      { key: "stations", label: "Stations", class: "num", render: (l) => fmt.number((l.stations || []).length) },
      { key: "flags", label: "Shared", render: flags },
      { key: "updated", label: "Updated", render: (l) => when(l.last_updated || l.updated_at) },
    ],
  });
  return h("div", {}, notice, table.el);
}

function receivedTable(names, query) {
  const notice = h("div");
  const partner = select({ name: "partner_id" }, [["", "All partners"], ...names.entries()], query.get("partner_id") || "");
  const loader = listLoader("/ocpi/received/locations", notice, "Received locations",
    () => ({ partner_id: partner.value || null }), (p) => setQuery({ view: "received", ...p }));
  const table = pagedTable({
    caption: "Locations received from partners",
    pageSize: 25,
    empty: "No partner has sent a location yet.",
    rowKey: (r) => String(r.id),
    filters: [field("Partner", partner)],
    load: loader.load,
    columns: [
      { key: "partner", label: "From", render: (r) => partnerLink(r.partner_id, names) },
      { key: "party", label: "Party", render: (r) => `${fmt.text(r.country_code)}/${fmt.text(r.party_id)}` },
      { key: "location", label: "Location", render: (r) => h("span", {}, fmt.text(r.name), " ", h("code", { class: "muted" }, fmt.text(r.location_id))) },
      { key: "place", label: "City", render: placeText },
      { key: "evses", label: "EVSEs", class: "num", render: (r) => fmt.number(r.evse_count) },
      { key: "updated", label: "Updated", render: (r) => when(r.last_updated) },
      { key: "json", label: "Location", render: (r) => jsonDetails("OCPI object", r.location, `rl-${r.id}`) },
    ],
  });
  partner.addEventListener("change", () => table.restart());
  return h("div", {}, notice, table.el);
}

export default {
  path: "/roaming/locations",
  title: "Locations",

  async render(root, ctx) {
    const received = ctx.query.get("view") === "received";
    const names = received ? await partnerNames() : new Map();
    if (!ctx.alive) return;
    const add = can("operator") && !received ? h("a", { class: "button primary", href: href("/roaming/locations/new") }, "New location") : null;
    root.append(
      subnav("/roaming/locations"),
      pageHeader("Locations", add),
      h("div", { class: "tabs", role: "navigation", "aria-label": "Whose locations" },
        h("a", { href: href("/roaming/locations"), "aria-current": received ? null : "page" }, "Ours"),
        h("a", { href: href("/roaming/locations", { view: "received" }), "aria-current": received ? "page" : null }, "From partners")),
      received
        ? h("p", { class: "muted" }, "What CPO partners pushed to us (OCPI locations receiver): where our drivers can charge on their networks.")
        : h("p", { class: "muted" }, "A location is a place with chargers: the stations assigned to it make its EVSEs, with their live status. Roaming locations are served to eMSP partners and pushed to them when they change."),
      received ? receivedTable(names, ctx.query) : oursTable());
  },
};

export const newLocation = {
  path: "/roaming/locations/new",
  title: "New location",
  role: "operator",

  async render(root) {
    const form = locationForm(null);
    const errors = h("div", { "aria-live": "assertive" });
    const save = h("button", { type: "submit", class: "primary" }, "Create location");
    const el = h("form", {
      class: "location-editor", "aria-label": "New location",
      onsubmit: async (event) => {
        event.preventDefault();
        errors.replaceChildren();
        save.disabled = true;
        try {
          const saved = await api.post("/locations", form.value());
          toast("Location created.", "ok");
          go(`/roaming/locations/${seg(saved.id)}`);
        } catch (err) {
          errors.append(errorBox(err));
        } finally {
          save.disabled = false;
        }
      },
    }, form.el, errors, h("div", { class: "actions" }, save, h("a", { class: "button", href: href("/roaming/locations") }, "Cancel")));
    root.append(
      subnav("/roaming/locations"),
      h("p", { class: "crumbs" }, h("a", { href: href("/roaming/locations") }, "‹ Locations")),
      pageHeader("New location"),
      h("section", { class: "card" }, el));
  },
};
