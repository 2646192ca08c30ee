// Overview: the network at a glance, live. Counts come from GET /overview; the stream's
// `stats` ticks update messages/s, and station or transaction events refetch the counts
// (at most once a second, however many events arrive).

import { api, seg } from "../api.js";
import { badge } from "../components/notice.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { href } from "../router.js";

function tile(label, value, link, kind = "") {
  const content = [h("span", { class: "tile-value" }, value), h("span", { class: "tile-label" }, label)];
  return link ? h("a", { class: `tile ${kind}`, href: link }, content) : h("div", { class: `tile ${kind}` }, content);
}

export default {
  path: "/",
  title: "Overview",
  nav: { label: "Overview", order: 10 },

  async render(root, ctx) {
    const tiles = h("div", { class: "tiles", "aria-live": "polite" });
    const alerts = h("div");
    root.append(pageHeader("Overview"), tiles, card("Recent alerts", alerts,
      h("p", {}, h("a", { href: href("/alerts") }, "All alerts not cleared"))));
    let data = null;
    let rate = null;
    // The tiles are made once and then updated in place: a redraw every stats tick must
    // not take the keyboard focus off the tile a user is on.
    const made = new Map();
    let shownAlerts;
    function setTile(label, value, link, kind = "") {
      const old = made.get(label);
      if (!old) {
        const el = tile(label, value, link, kind);
        made.set(label, el);
        return el;
      }
      old.className = `tile ${kind}`;
      if (link) old.setAttribute("href", link);
      old.querySelector(".tile-value").textContent = value;
      return old;
    }

    function draw() {
      if (!data) return;
      const s = data.stations || {};
      const mps = rate ?? data.messages_per_second;
      const list = [
        setTile("Stations", fmt.number(s.total), href("/stations")),
        setTile("Online", fmt.number(s.online), href("/stations", { state: "online" }), "ok"),
        setTile("Offline", fmt.number(s.offline), href("/stations", { state: "offline" }), "muted"),
        setTile("Faulted", fmt.number(s.faulted), href("/stations", { state: "faulted" }), s.faulted ? "bad" : ""),
        setTile("Charging", fmt.number(s.charging), href("/stations", { state: "charging" }), "charging"),
        setTile("Active transactions", fmt.number(data.active_transactions), href("/transactions", { status: "active" })),
        setTile("Energy today", fmt.kwh(data.energy_today_wh, 1)),
        setTile("Messages / s", fmt.number(mps, 1))];
      if (tiles.children.length !== list.length || list.some((el, i) => tiles.children[i] !== el)) {
        replace(tiles, ...list);
      }
      if (data.alerts === shownAlerts) return; // a stats tick: the list is as it was
      shownAlerts = data.alerts;
      const recent = data.alerts || [];
      replace(alerts, recent.length === 0
        ? h("p", { class: "muted" }, "No alerts.")
        : h("ul", { class: "alerts" }, recent.map((a) => h("li", {},
          badge(a.status || a.error_code || "alert"), " ",
          h("a", { href: href(`/stations/${seg(a.station_id)}`) }, a.station_id),
          a.evse_id ? ` EVSE ${a.evse_id}` : "", a.connector_id ? ` connector ${a.connector_id}` : "",
          a.error_code && a.error_code !== "NoError" ? ` · ${a.error_code}` : "",
          a.info ? ` · ${a.info}` : "",
          h("small", { class: "muted" }, " ", fmt.ago(a.timestamp || a.received_at))))));
    }

    async function load() {
      data = await api.get("/overview");
      if (ctx.alive) draw();
    }

    let pending = null;
    const refresh = () => {
      if (pending) return;
      pending = setTimeout(async () => {
        pending = null;
        await load().catch(() => {});
      }, 1000);
    };
    ctx.onCleanup(() => clearTimeout(pending));
    for (const type of ["station.connected", "station.disconnected", "station.status_changed",
      "transaction.started", "transaction.ended", "reset"]) ctx.live(type, refresh);
    ctx.live("transaction.updated", refresh);
    ctx.live("stats", (stats) => {
      if (stats && typeof stats.messages_per_second === "number") {
        rate = stats.messages_per_second;
        draw();
      }
    });
    await load();
  },
};
