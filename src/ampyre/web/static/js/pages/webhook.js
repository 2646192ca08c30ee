// One webhook (admin): its settings, ping / edit / delete, and its delivery history
// (newest first, by status) with each delivery's attempts, last HTTP status or error, the
// JSON body as text, and retry for a failed one.

import { api, seg } from "../api.js";
import { resultDialog } from "../components/dialog.js";
import { attempt, badge } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, replace, select } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { go, href, setQuery } from "../router.js";
import { deleteWebhook, eventList, pingWebhook, webhookForm } from "./webhooks.js";

function props(pairs) {
  return h("dl", { class: "props" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** A delivery in full, its JSON body as text. */
function showDelivery(d) {
  resultDialog(`Delivery #${d.id}`, [
    props([
      ["Event", d.event_type],
      ["Status", badge(d.status)],
      ["Attempts", String(d.attempts)],
      ["Last HTTP status", fmt.text(d.last_status_code)],
      ["Last error", fmt.text(d.last_error)],
      ["Created", fmt.time(d.created_at)],
      ["Delivered", fmt.time(d.delivered_at)],
      ["Next attempt", fmt.time(d.next_attempt_at)],
    ]),
    h("h3", {}, "Payload"),
    h("pre", {}, fmt.json(d.payload)),
  ]);
}

export default {
  path: "/webhooks/:id",
  title: (p) => `Webhook #${p.id}`,
  role: "admin",

  async render(root, ctx) {
    const id = ctx.params.id;
    const settings = h("div");
    const header = h("div");
    let hook = await api.get(`/webhooks/${seg(id)}`);
    if (!ctx.alive) return;

    function draw() {
      replace(header, pageHeader(`Webhook #${hook.id}`,
        h("a", { class: "button", href: href("/webhooks") }, "All webhooks"),
        h("button", { type: "button", onclick: async () => { if (await pingWebhook(hook)) setTimeout(() => table.restart(), 1500); } }, "Ping"),
        h("button", {
          type: "button",
          onclick: async () => {
            const saved = await webhookForm(hook);
            if (saved && ctx.alive) {
              hook = saved;
              draw();
            }
          },
        }, "Edit"),
        h("button", { type: "button", class: "danger", onclick: async () => { if (await deleteWebhook(hook)) go("/webhooks"); } }, "Delete")));
      replace(settings, props([
        ["URL", hook.url],
        ["Events", eventList(hook)],
        ["State", badge(hook.enabled ? "enabled" : "disabled")],
        ["Secret", hook.has_secret ? "set (not shown)" : "none"],
        ["Description", fmt.text(hook.description)],
        ["Created", fmt.time(hook.created_at)],
        ["Updated", fmt.time(hook.updated_at)],
      ]));
    }

    const statusFilter = select({}, [["", "Any status"], "pending", "delivered", "failed"], ctx.query.get("status") || "");
    const refresh = h("button", { type: "button", onclick: () => table.reload() }, "Refresh");

    function retryButton(d) {
      if (d.status !== "failed") return null;
      return h("button", {
        type: "button", class: "small",
        onclick: async () => {
          const out = await attempt(() => api.post(`/webhooks/${seg(hook.id)}/deliveries/${seg(d.id)}/retry`),
            `Delivery ${d.id} queued again.`);
          if (out) table.reload();
        },
      }, "Retry");
    }

    const table = pagedTable({
      caption: "Deliveries",
      pageSize: 20,
      empty: "No deliveries yet.",
      rowKey: (d) => d.id,
      filters: [field("Status", statusFilter), refresh],
      columns: [
        { key: "id", label: "#", class: "num nowrap" },
        { key: "event_type", label: "Event", class: "nowrap" },
        { key: "status", label: "Status", class: "nowrap", render: (d) => badge(d.status) },
        { key: "attempts", label: "Attempts", class: "num" },
        { key: "last_status_code", label: "Last HTTP status", render: (d) => fmt.text(d.last_status_code) },
        { key: "last_error", label: "Last error", render: (d) => fmt.text(d.last_error) },
        { key: "created_at", label: "Created", render: (d) => fmt.time(d.created_at) },
        {
          key: "when", label: "Delivered / next try",
          render: (d) => (d.delivered_at ? fmt.time(d.delivered_at) : d.next_attempt_at ? `next ${fmt.time(d.next_attempt_at)}` : fmt.DASH),
        },
        { key: "payload", label: "Payload", render: (d) => h("button", { type: "button", class: "small", onclick: () => showDelivery(d) }, "Show") },
        { key: "actions", label: "Actions", render: retryButton },
      ],
      load: ({ limit, offset }) => api.get(`/webhooks/${seg(hook.id)}/deliveries`, { limit, offset, status: statusFilter.value }),
      onState: () => setQuery({ status: statusFilter.value }),
    });
    statusFilter.addEventListener("change", () => table.restart());
    draw();
    root.append(header, card("Settings", settings), card("Deliveries", table.el));
  },
};
