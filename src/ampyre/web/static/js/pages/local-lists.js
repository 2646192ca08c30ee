// Local authorization lists: what Ampyre last pushed to a station (GET
// /stations/{id}/local-list, with ?live=true also the version the station reports; that
// asks the station and needs the operator role), and pushing the lists (POST
// /local-lists/push) to one station, a few, or every connected one. `#/local-lists?station=X`
// opens a station's list directly (the station page can link here).

import { api, seg } from "../api.js";
import { confirmDialog } from "../components/dialog.js";
import { badge, errorBox } from "../components/notice.js";
import { field, h, replace, select } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { can } from "../session.js";

function props(pairs) {
  return h("dl", { class: "props" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function resultsTable(results) {
  if (!results.length) return h("p", { class: "muted" }, "No station was sent anything (none connected).");
  const cols = ["Station", "Outcome", "Station's answer", "Update", "Version", "Entries", "Messages", "Detail"];
  return h("div", { class: "table-scroll" }, h("table", { class: "data" },
    h("caption", { class: "visually-hidden" }, "Push results"),
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, results.map((r) => h("tr", {},
      h("td", { "data-label": cols[0] }, h("a", { href: href(`/stations/${seg(r.station_id)}`) }, r.station_id)),
      h("td", { "data-label": cols[1] }, badge(r.status)),
      h("td", { "data-label": cols[2] }, fmt.text(r.station_answer)),
      h("td", { "data-label": cols[3] }, `${fmt.text(r.update_type)}${r.retried_full ? " (retried full)" : ""}`),
      h("td", { "data-label": cols[4] }, fmt.text(r.version)),
      h("td", { "data-label": cols[5] }, fmt.number(r.entries)),
      h("td", { "data-label": cols[6] }, fmt.number(r.messages)),
      h("td", { "data-label": cols[7] }, fmt.text(r.detail)))))));
}

export default {
  path: "/local-lists",
  title: "Local lists",

  async render(root, ctx) {
    const operator = can("operator");
    const station = h("input", { value: ctx.query.get("station") || "", maxlength: 48, autocomplete: "off", spellcheck: "false" });
    const shown = h("div", { "aria-live": "polite" });
    const askButton = operator ? h("button", { type: "button", onclick: () => show(true) }, "Ask the station") : null;

    async function show(live = false) {
      const id = station.value.trim();
      setQuery({ station: id });
      if (!id) {
        replace(shown, h("p", { class: "muted" }, "Enter a station id to see its list."));
        return;
      }
      replace(shown, h("p", { class: "muted" }, live ? "Asking the station…" : "Loading…"));
      try {
        const list = await api.get(`/stations/${seg(id)}/local-list`, live ? { live: true } : null);
        if (!ctx.alive) return;
        const rows = [
          ["Station", h("a", { href: href(`/stations/${seg(list.station_id)}`) }, list.station_id)],
          ["Version pushed", list.version === 0 ? "0 (never pushed)" : String(list.version)],
          ["Last push", list.last_status ? badge(list.last_status) : fmt.DASH],
          ["Updated", fmt.time(list.updated_at)],
          ["Entries", fmt.number(list.entries.length)],
        ];
        if (live) {
          rows.push(["Station's answer", list.live_status === "ok"
            ? `version ${list.live_version}${list.live_version === -1 ? " (not supported)" : list.live_version === 0 ? " (empty)" : ""}`
            : [badge(list.live_status), list.live_detail ? ` ${list.live_detail}` : ""]]);
        }
        replace(shown, props(rows),
          list.entries.length === 0 ? h("p", { class: "muted" }, "The list Ampyre pushed is empty.") :
            h("div", { class: "table-scroll" }, h("table", { class: "data" },
              h("caption", { class: "visually-hidden" }, "Entries"),
              h("thead", {}, h("tr", {}, ["Token", "Type", "Status sent"].map((c) => h("th", { scope: "col" }, c)))),
              h("tbody", {}, list.entries.map((e) => h("tr", {},
                h("td", { "data-label": "Token" }, h("a", { href: href("/id-tokens", { q: e.id_token }) }, e.id_token)),
                h("td", { "data-label": "Type" }, e.type),
                h("td", { "data-label": "Status sent" }, badge(e.status))))))));
      } catch (err) {
        if (ctx.alive) replace(shown, errorBox(err));
      }
    }

    const lookup = h("form", {
      class: "inline-form",
      onsubmit: (e) => {
        e.preventDefault();
        show(false);
      },
    }, field("Station id", station), h("button", { type: "submit", class: "primary" }, "Show"), askButton);

    root.append(pageHeader("Local lists", h("a", { class: "button", href: href("/id-tokens") }, "Id tokens")),
      h("p", { class: "muted" }, "A station's local list holds the id tokens it may accept while offline. Ampyre sends each station the tokens usable there."),
      card("A station's list", lookup, shown));

    if (operator) {
      const target = select({}, [["this", "The station above"], ["list", "These stations"], ["all", "Every connected station"]], "this");
      const ids = h("textarea", { rows: 3, placeholder: "one station id per line", style: { minHeight: "4rem" } });
      const idsField = field("Station ids", ids, "One per line.");
      idsField.hidden = true;
      target.addEventListener("change", () => { idsField.hidden = target.value !== "list"; });
      const update = select({}, [["full", "Full (replace the list)"], ["differential", "Differential (changes since the last push)"]], "full");
      const chunk = h("input", { type: "number", min: 1, max: 10000, value: 100, step: 1, inputmode: "numeric" });
      const results = h("div", { "aria-live": "polite" });
      const pushButton = h("button", { type: "submit", class: "primary" }, "Push");
      const form = h("form", {
        onsubmit: async (e) => {
          e.preventDefault();
          const body = { update_type: update.value, chunk_size: Number(chunk.value) || 100 };
          let what;
          if (target.value === "all") {
            body.all_connected = true;
            what = "every connected station";
          } else {
            const list = target.value === "this" ? [station.value.trim()] : ids.value.split(/\s*\n\s*/).map((s) => s.trim());
            body.station_ids = [...new Set(list.filter(Boolean))];
            if (!body.station_ids.length) {
              replace(results, errorBox(new Error(target.value === "this" ? "Enter the station id above." : "Enter at least one station id.")));
              return;
            }
            what = body.station_ids.length === 1 ? `station ${body.station_ids[0]}` : `${body.station_ids.length} stations`;
          }
          const ok = await confirmDialog("Push local lists?", `Send the ${update.value} local list to ${what} (SendLocalList).`, { confirmLabel: "Push" });
          if (!ok) return;
          pushButton.disabled = true;
          replace(results, h("p", { class: "muted" }, "Sending… (one station after the other)"));
          try {
            const out = await api.post("/local-lists/push", body);
            if (!ctx.alive) return;
            replace(results, resultsTable(out.results));
            if (station.value.trim()) show(false);
          } catch (err) {
            if (ctx.alive) replace(results, errorBox(err));
          } finally {
            pushButton.disabled = false;
          }
        },
      }, h("div", { class: "inline-form" }, field("Send to", target), field("Update", update), field("Entries per message", chunk)),
      idsField, h("div", { class: "actions" }, pushButton), results);
      root.append(card("Push", form));
    }
    show(false);
  },
};
