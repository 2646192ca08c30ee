// Nodes: the `ampyre serve` processes of a cluster (GET /nodes), their stations, load and
// lease age; refreshed every few seconds. One process alone lists itself.

import { api } from "../api.js";
import { badge } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { h } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";

const REFRESH_MS = 5000;

export default {
  path: "/nodes",
  title: "Nodes",
  nav: { label: "Nodes", order: 75 },

  async render(root, ctx) {
    const note = h("p", { class: "muted" });
    const table = pagedTable({
      caption: "Nodes",
      pageSize: 100,
      empty: "No node has a lease.",
      rowKey: (n) => n.node_id,
      columns: [
        { key: "node_id", label: "Node", render: (n) => (n.this_node ? h("span", {}, n.node_id, " ", h("span", { class: "muted" }, "(this one)")) : n.node_id) },
        { key: "state", label: "State", render: (n) => badge(n.alive ? (n.leader ? "leader" : "online") : "expired") },
        { key: "stations", label: "Stations", class: "num", render: (n) => fmt.number(n.stations) },
        { key: "messages_per_s", label: "Frames/s", class: "num", render: (n) => fmt.number(n.messages_per_s) },
        { key: "cpu", label: "CPU", class: "num", render: (n) => `${fmt.number(Math.round(n.cpu * 100))} %` },
        { key: "lease_age_s", label: "Lease age", class: "num", render: (n) => `${n.lease_age_s.toFixed(1)} s` },
        { key: "address", label: "Listens on", render: (n) => h("code", {}, n.address || "-") },
        { key: "pid", label: "PID", class: "num" },
        { key: "started_at", label: "Started", render: (n) => h("span", { title: fmt.time(n.started_at) }, fmt.ago(n.started_at)) },
      ],
      load: async () => {
        const body = await api.get("/nodes");
        note.textContent = body.clustered
          ? "Nodes share the database and NATS; a node that stops renewing its lease is taken for dead and its stations released."
          : "A single process on the in-process bus (no cluster).";
        return body;
      },
    });
    root.append(pageHeader("Nodes", h("button", { type: "button", onclick: () => table.reload() }, "Refresh")),
      note, table.el);
    ctx.every(REFRESH_MS, () => table.reload());
  },
};
