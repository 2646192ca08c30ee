// One location (/roaming/locations/:id): its address, coordinates and flags; the
// stations assigned to it (operators assign and remove them); its EVSEs as partners
// see them (OCPI status from the stations' live status, eMI3 id, connectors with their
// OCPI attributes and tariffs), each EVSE's and connector's attributes editable by
// operators (or reset to Ampyre's defaults); and the OCPI Location object as served.
// `locationEdit` (/roaming/locations/:id/edit) edits the location's own fields.

import { api, seg } from "../api.js";
import { confirmDialog, formDialog } from "../components/dialog.js";
import { attempt, errorBox, toast } from "../components/notice.js";
import { field, h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { go, href } from "../router.js";
import { can } from "../session.js";
import { jsonDetails, ocpiBadge, subnav, when } from "./roaming/common.js";
import { connectorFields, evseFields, locationForm } from "./roaming/location-form.js";
import { failure, redraw, throttled } from "./security.js";

const POLL_MS = 10000;
const STATION_EVENTS = ["station.status_changed", "station.connected", "station.disconnected"];

function coordinatesText(c) {
  if (!c || c.latitude === null || c.latitude === undefined) return fmt.DASH;
  return `${c.latitude}, ${c.longitude}`;
}

function detailsView(l) {
  const opening = l.opening_times ? (l.opening_times.twentyfourseven ? "24/7" : "regular hours (see the OCPI object)") : fmt.DASH;
  return h("dl", { class: "props" },
    h("dt", {}, "Id"), h("dd", {}, h("code", {}, fmt.text(l.id))),
    h("dt", {}, "Address"), h("dd", {}, fmt.text(l.address)),
    h("dt", {}, "Postal code"), h("dd", {}, fmt.text(l.postal_code)),
    h("dt", {}, "City"), h("dd", {}, fmt.text(l.city)),
    l.state ? [h("dt", {}, "State"), h("dd", {}, l.state)] : null,
    h("dt", {}, "Country"), h("dd", {}, fmt.text(l.country)),
    h("dt", {}, "Coordinates"), h("dd", {}, coordinatesText(l.coordinates)),
    h("dt", {}, "Time zone"), h("dd", {}, fmt.text(l.time_zone)),
    h("dt", {}, "Parking"), h("dd", {}, fmt.text(l.parking_type)),
    h("dt", {}, "Facilities"), h("dd", {}, (l.facilities || []).join(", ") || fmt.DASH),
    h("dt", {}, "Opening hours"), h("dd", {}, opening),
    h("dt", {}, "Operator"), h("dd", {}, fmt.text(l.operator?.name)),
    h("dt", {}, "Published"), h("dd", {}, l.publish === false ? "no" : "yes"),
    h("dt", {}, "Roaming"), h("dd", {}, l.roaming === false ? "no (not served to partners)" : "yes"),
    h("dt", {}, "Updated"), h("dd", {}, when(l.last_updated || l.updated_at)));
}

function connectorText(c) {
  const parts = [c.standard, c.format, c.power_type].filter(Boolean).join(" ");
  const limits = [c.max_voltage ? `${c.max_voltage} V` : null, c.max_amperage ? `${c.max_amperage} A` : null,
    c.max_electric_power ? `${fmt.number(c.max_electric_power / 1000, 1)} kW` : null].filter(Boolean).join(", ");
  return `${parts || fmt.DASH}${limits ? ` · ${limits}` : ""}`;
}

export default {
  path: "/roaming/locations/:id",
  title: (params) => `Location ${params.id}`,

  async render(root, ctx) {
    const id = ctx.params.id;
    const path = `/locations/${seg(id)}`;
    let location;
    try {
      location = await api.get(path);
    } catch (err) {
      if (err.status !== 404) throw err;
      root.append(subnav("/roaming/locations"), h("h1", {}, "Location ", id),
        h("p", { role: "alert" }, "There is no such location (it may have been deleted). ", h("a", { href: href("/roaming/locations") }, "All locations")));
      return;
    }
    if (!ctx.alive) return;
    const title = () => location.name || `Location ${location.id}`;
    document.title = `${title()} · Ampyre`;
    const operator = can("operator");
    const info = h("div");
    const stationsBox = h("div");
    const evsesBox = h("div", { "aria-live": "off" });
    const ocpiBox = h("div");

    // ---- stations
    function stationsView() {
      const list = location.stations || [];
      return [
        list.length === 0 ? h("p", { class: "muted" }, "No stations yet: assign one to give the location its EVSEs.") : h("ul", { class: "location-stations" },
          list.map((s) => h("li", {},
            h("a", { href: href(`/stations/${seg(s)}`) }, s),
            operator ? [" ", h("button", {
              type: "button", class: "small", "aria-label": `Remove station ${s}`,
              onclick: async () => {
                const ok = await confirmDialog(`Remove ${s} from this location?`,
                  "Its EVSEs are pushed to partners as REMOVED.", { confirmLabel: "Remove", danger: true });
                if (ok && await attempt(() => api.del(`${path}/stations/${seg(s)}`), `${s} removed.`) !== undefined) reload();
              },
            }, "Remove")] : null))),
        operator ? assignForm() : null,
      ];
    }

    function assignForm() {
      const station = h("input", { name: "station", required: true, maxlength: 48, autocomplete: "off", spellcheck: "false", list: "location-station-ids" });
      const options = h("datalist", { id: "location-station-ids" });
      api.get("/stations", { limit: 200 }).then((page) => {
        const items = Array.isArray(page) ? page : page?.items || [];
        replace(options, items.filter((s) => !(location.stations || []).includes(s.id)).map((s) => h("option", { value: s.id })));
      }).catch(() => {});
      const out = h("div", { "aria-live": "polite" });
      return h("form", {
        class: "inline-form", "aria-label": "Assign a station",
        onsubmit: async (event) => {
          event.preventDefault();
          out.replaceChildren();
          const sid = station.value.trim();
          try {
            location = await api.put(`${path}/stations/${seg(sid)}`);
            toast(`${sid} assigned.`, "ok");
            reload();
          } catch (err) {
            out.append(errorBox(err));
          }
        },
      }, field("Station", station, "Assigning moves it from its other location, if any."), options,
      h("button", { type: "submit" }, "Assign"), out);
    }

    // ---- EVSEs
    async function editConnector(e, c) {
      const f = connectorFields(c);
      const saved = await formDialog(`Connector ${c.connector_id} of ${e.uid}`, () => f.fields,
        async () => {
          await api.put(`${path}/evses/${seg(e.station_id)}/${seg(e.evse_id)}/connectors/${seg(c.connector_id)}`, f.value());
          return true; // the answer is 204: null would read as "cancelled"
        });
      if (saved !== null) {
        toast("Connector saved.", "ok");
        changed();
      }
    }

    async function resetConnector(e, c) {
      const ok = await confirmDialog(`Reset connector ${c.connector_id} of ${e.uid}?`,
        "Its OCPI attributes go back to Ampyre's defaults.", { confirmLabel: "Reset" });
      if (ok && await attempt(() => api.del(`${path}/evses/${seg(e.station_id)}/${seg(e.evse_id)}/connectors/${seg(c.connector_id)}`), "Connector reset.") !== undefined) changed();
    }

    async function editEvse(e) {
      const f = evseFields(e);
      const saved = await formDialog(`EVSE ${e.uid}`, () => f.fields,
        async () => {
          await api.put(`${path}/evses/${seg(e.station_id)}/${seg(e.evse_id)}`, f.value());
          return true;
        });
      if (saved !== null) {
        toast("EVSE saved.", "ok");
        changed();
      }
    }

    async function resetEvse(e) {
      const ok = await confirmDialog(`Reset EVSE ${e.uid}?`, "Its OCPI attributes go back to Ampyre's defaults.", { confirmLabel: "Reset" });
      if (ok && await attempt(() => api.del(`${path}/evses/${seg(e.station_id)}/${seg(e.evse_id)}`), "EVSE reset.") !== undefined) changed();
    }

    function evsesView(items) {
      if (items.length === 0) return h("p", { class: "muted" }, "No EVSEs: the assigned stations have reported none yet.");
      return h("div", { class: "table-scroll" }, h("table", { class: "data location-evses" },
        h("caption", { class: "visually-hidden" }, "EVSEs of this location"),
        h("thead", {}, h("tr", {}, ["EVSE", "Station", "eMI3 id", "Status", "Connectors", operator ? "Actions" : null]
          .filter((c) => c !== null).map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, items.map((e) => h("tr", { dataset: { evse: String(e.uid) } },
          h("td", { "data-label": "EVSE" }, h("code", {}, fmt.text(e.uid)), e.customized ? h("small", { class: "muted" }, " (edited)") : null),
          h("td", { "data-label": "Station" }, h("a", { href: href(`/stations/${seg(e.station_id)}`) }, e.station_id), ` EVSE ${e.evse_id}`),
          h("td", { "data-label": "eMI3 id" }, fmt.text(e.emi3_id)),
          h("td", { "data-label": "Status" }, ocpiBadge(e.status), e.connected === false ? h("small", { class: "muted" }, " (station offline)") : null),
          h("td", { "data-label": "Connectors" }, h("ul", { class: "plain location-connectors" }, (e.connectors || []).map((c) => h("li", {},
            h("strong", {}, `${c.connector_id}: `), connectorText(c),
            c.ocpp_status ? h("small", { class: "muted" }, ` · OCPP ${c.ocpp_status}`) : null,
            (c.tariff_ids || []).length ? h("small", {}, " · tariffs ", c.tariff_ids.map((t, i) => [i ? ", " : null,
              h("a", { href: href(`/roaming/tariffs/${seg(t)}`) }, t)])) : h("small", { class: "muted" }, " · no tariff"),
            c.customized ? h("small", { class: "muted" }, " (edited)") : null,
            operator ? h("span", { class: "row-actions" }, " ",
              h("button", { type: "button", class: "small", "aria-label": `Edit connector ${c.connector_id} of ${e.uid}`, onclick: () => editConnector(e, c) }, "Edit"),
              c.customized ? h("button", { type: "button", class: "small", "aria-label": `Reset connector ${c.connector_id} of ${e.uid}`, onclick: () => resetConnector(e, c) }, "Reset") : null) : null)))),
          operator ? h("td", { "data-label": "Actions" }, h("div", { class: "row-actions" },
            h("button", { type: "button", class: "small", "aria-label": `Edit EVSE ${e.uid}`, onclick: () => editEvse(e) }, "Edit EVSE"),
            e.customized ? h("button", { type: "button", class: "small", "aria-label": `Reset EVSE ${e.uid}`, onclick: () => resetEvse(e) }, "Reset") : null)) : null)))));
    }

    async function loadEvses() {
      try {
        const answer = await api.get(`${path}/evses`);
        if (ctx.alive) redraw(evsesBox, evsesView(Array.isArray(answer) ? answer : answer?.items || []));
      } catch (err) {
        if (ctx.alive) redraw(evsesBox, failure(err, "The EVSEs of a location"));
      }
    }

    async function loadOcpi() {
      try {
        const obj = await api.get(`${path}/ocpi`);
        if (ctx.alive) {
          redraw(ocpiBox, obj === null
            ? h("p", { class: "muted" }, "Not served to partners (not a roaming location).")
            : jsonDetails("The OCPI Location object", obj, "location-ocpi"));
        }
      } catch (err) {
        if (ctx.alive) redraw(ocpiBox, err.status === 404 ? h("p", { class: "muted" }, "Not served to partners (not a roaming location).") : failure(err, "The OCPI view of a location"));
      }
    }

    /** After an EVSE or connector edit: the table and the OCPI object again. */
    function changed() {
      loadEvses();
      loadOcpi();
    }

    async function reload() {
      try {
        location = await api.get(path);
      } catch (err) {
        if (err.status === 404) {
          go("/roaming/locations");
          return;
        }
      }
      if (!ctx.alive) return;
      heading.textContent = title();
      redraw(info, detailsView(location));
      redraw(stationsBox, stationsView());
      loadEvses();
      loadOcpi();
    }

    const heading = h("h1", {}, title());
    const actions = operator ? [
      h("a", { class: "button", href: href(`/roaming/locations/${seg(id)}/edit`) }, "Edit"),
      h("button", {
        type: "button",
        onclick: async () => {
          const answer = await attempt(() => api.post(`${path}/push`));
          if (answer !== undefined) toast(`Queued for ${answer?.queued ?? 0} partner(s).`, "ok");
        },
      }, "Push to partners"),
      h("button", {
        type: "button", class: "danger",
        onclick: async () => {
          const ok = await confirmDialog(`Delete location ${title()}?`,
            "Its EVSEs are pushed to partners as REMOVED; its stations stay in Ampyre, in no location.",
            { confirmLabel: "Delete", danger: true });
          if (ok && await attempt(() => api.del(path), "Location deleted.") !== undefined) go("/roaming/locations");
        },
      }, "Delete"),
    ] : [];
    redraw(info, detailsView(location));
    redraw(stationsBox, stationsView());
    root.append(
      subnav("/roaming/locations"),
      h("p", { class: "crumbs" }, h("a", { href: href("/roaming/locations") }, "‹ Locations")),
      h("div", { class: "page-header" }, heading, h("div", { class: "actions" }, actions)),
      h("div", { class: "grid roaming-grid" }, card("Location", info), card("Stations", stationsBox)),
      card("EVSEs", evsesBox),
      card("As partners see it", ocpiBox));
    const refresh = throttled(ctx, loadEvses);
    for (const type of STATION_EVENTS) {
      ctx.live(type, (event) => {
        if (!event?.station_id || (location.stations || []).includes(event.station_id)) refresh();
      });
    }
    ctx.live("reset", refresh);
    ctx.every(POLL_MS, refresh);
    await Promise.all([loadEvses(), loadOcpi()]);
  },
};

export const locationEdit = {
  path: "/roaming/locations/:id/edit",
  title: (params) => `Edit location ${params.id}`,
  role: "operator",

  async render(root, ctx) {
    const path = `/locations/${seg(ctx.params.id)}`;
    const location = await api.get(path);
    if (!ctx.alive) return;
    const form = locationForm(location);
    const errors = h("div", { "aria-live": "assertive" });
    const save = h("button", { type: "submit", class: "primary" }, "Save location");
    const back = `/roaming/locations/${seg(location.id)}`;
    const el = h("form", {
      class: "location-editor", "aria-label": `Edit location ${location.name || location.id}`,
      onsubmit: async (event) => {
        event.preventDefault();
        errors.replaceChildren();
        save.disabled = true;
        try {
          await api.put(path, form.value());
          toast("Location saved.", "ok");
          go(back);
        } catch (err) {
          errors.append(errorBox(err));
        } finally {
          save.disabled = false;
        }
      },
    }, form.el, errors, h("div", { class: "actions" }, save, h("a", { class: "button", href: href(back) }, "Cancel")));
    root.append(
      subnav("/roaming/locations"),
      h("p", { class: "crumbs" }, h("a", { href: href(back) }, `‹ ${location.name || location.id}`)),
      pageHeader(`Edit ${location.name || location.id}`),
      h("section", { class: "card" }, el));
  },
};
