// One firmware rollout, live: its state and counts, and each station's progress
// (Downloading, Downloaded, Installing, Installed, failures) as the stations report it.

import { api, seg } from "../api.js";
import { confirmDialog } from "../components/dialog.js";
import { attempt, badge, errorBox } from "../components/notice.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href } from "../router.js";
import { can } from "../session.js";
import { countsText } from "./firmware.js";

function stationRows(stations) {
  return stations.map((u) => h("tr", { "data-station": u.station_id },
    h("td", {}, h("a", { href: href(`/stations/${seg(u.station_id)}`) }, u.station_id)),
    h("td", {}, badge(u.state)),
    h("td", {}, u.status ? badge(u.status) : fmt.DASH),
    h("td", {}, fmt.text(u.detail)),
    h("td", {}, u.updated_at ? h("time", { datetime: u.updated_at, title: fmt.time(u.updated_at) }, fmt.ago(u.updated_at)) : fmt.DASH)));
}

export default {
  path: "/firmware/rollouts/:id",
  title: (params) => `Rollout ${params.id}`,

  async render(root, ctx) {
    const id = ctx.params.id;
    const header = h("div");
    const summary = h("p", { class: "rollout-summary", role: "status" });
    const body = h("tbody");
    const errors = h("div");
    const table = h("table", { class: "data" },
      h("caption", { class: "visually-hidden" }, "Stations of the rollout"),
      h("thead", {}, h("tr", {}, ["Station", "Update", "Station status", "Detail", "Changed"].map((c) => h("th", { scope: "col" }, c)))),
      body);
    root.append(header, h("section", { class: "card" }, h("h2", {}, "Progress"), summary, errors, table));

    const action = (label, path, ask) => h("button", {
      type: "button",
      onclick: async () => {
        if (ask && !await confirmDialog(`${label} the rollout?`, ask, { confirmLabel: label, danger: label === "Abort" })) return;
        if (await attempt(() => api.post(`/rollouts/${seg(id)}/${path}`), `Rollout ${label.toLowerCase()}ed`) !== undefined) load();
      },
    }, label);

    let seq = 0;
    async function load() {
      const mine = ++seq;
      try {
        const r = await api.get(`/rollouts/${seg(id)}`);
        if (mine !== seq) return;
        const buttons = [];
        if (can("operator")) {
          if (r.state === "running") buttons.push(action("Pause", "pause"));
          if (r.state === "paused") buttons.push(action("Resume", "resume"));
          if (r.state === "running" || r.state === "paused") buttons.push(action("Abort", "abort", "Stations not yet updated are skipped; those underway are still followed."));
        }
        replace(header, pageHeader(r.name || `Rollout ${r.id}`, ...buttons),
          h("p", {}, badge(r.state), " ",
            `Batches of ${r.batch_size}, ${fmt.number(r.pause_seconds)} s pause, abort after ${r.abort_threshold || "no"} failure(s); ${r.batches_sent} batch(es) sent.`,
            r.detail ? h("span", { class: "muted" }, ` ${r.detail}`) : null));
        summary.textContent = `${r.state}: ${countsText(r.counts)}`;
        replace(body, stationRows(r.stations || []));
        replace(errors);
      } catch (err) {
        replace(errors, errorBox(err));
      }
    }
    await load();
    ctx.live("firmware.status_changed", (event) => {
      if (String(event?.data?.rollout_id) === String(id)) load();
    });
    for (const type of ["rollout.progress", "rollout.finished", "reset"]) ctx.live(type, () => load());
  },
};
