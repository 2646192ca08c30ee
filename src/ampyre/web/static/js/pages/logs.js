// Uploaded logs of all stations: the log requests (newest first) with their status, the
// file's size and sha256, and a download link; filtered by station and by whether the
// file has arrived. Requests are made from a station's Logs tab.

import { api, seg } from "../api.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h, select } from "../dom.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { logColumns } from "./station/logs.js";

const FILES = [["", "All requests"], ["true", "With a file"], ["false", "Without a file"]];

export default {
  path: "/logs",
  title: "Logs",
  nav: { label: "Logs", order: 37 },

  async render(root, ctx) {
    const q = ctx.query;
    const filters = {
      station_id: q.get("station_id") || "",
      with_file: FILES.some(([v]) => v === q.get("with_file")) ? q.get("with_file") : "",
    };
    const station = h("input", { type: "search", value: filters.station_id, autocomplete: "off", spellcheck: "false" });
    const withFile = select({}, FILES, filters.with_file);
    const apply = () => {
      filters.station_id = station.value.trim();
      filters.with_file = withFile.value;
      table.restart();
    };
    station.addEventListener("input", debounce(apply, 350));
    withFile.addEventListener("change", apply);
    const stationLink = (r) => h("a", { href: href(`/stations/${seg(r.station_id)}`, { tab: "logs" }) }, r.station_id);
    const table = pagedTable({
      caption: "Log requests, newest first",
      pageSize: 25,
      filters: [field("Station id", station), field("Files", withFile)],
      empty: "No logs match. Ask a station for one from its Logs tab.",
      rowKey: (r) => String(r.id),
      onState: (s) => setQuery({ ...filters, offset: s?.offset || null }),
      load: ({ limit, offset }) => api.get("/logs", {
        station_id: filters.station_id || null, with_file: filters.with_file || null, limit, offset,
      }),
      columns: logColumns(true, stationLink),
    });
    root.append(pageHeader("Logs"),
      h("p", { class: "muted" }, "Diagnostics and security logs stations uploaded to Ampyre."),
      table.el);
    let timer = null;
    ctx.onCleanup(() => clearTimeout(timer));
    ctx.live("log.status_changed", () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (ctx.alive) table.reload();
      }, 1000);
    });
  },
};
