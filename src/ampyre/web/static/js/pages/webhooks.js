// Webhooks (admin): the URLs that get every event as a signed POST. List, create (a
// generated secret is shown once), edit, ping, delete; a webhook's page (webhook.js) has
// its delivery history with retry.

import { api, seg } from "../api.js";
import { confirmDialog, formDialog, resultDialog } from "../components/dialog.js";
import { apiEnum, checkbox, checkboxGroup, optional, secretBox } from "../components/forms.js";
import { attempt, badge, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { go, href } from "../router.js";

const EVENT_TYPES = [
  "transaction.started", "transaction.updated", "transaction.ended",
  "station.connected", "station.disconnected", "station.status_changed",
];

/** Create (hook = null) or edit a webhook; resolves with the API's answer or null. */
export async function webhookForm(hook) {
  const types = await apiEnum("EventType", EVENT_TYPES);
  const url = h("input", { type: "url", required: true, value: hook?.url || "", maxlength: 2048, spellcheck: "false" });
  const secret = h("input", { type: "password", autocomplete: "new-password", minlength: 16, maxlength: 255, spellcheck: "false" });
  const events = checkboxGroup("Event types", types, hook?.event_types || [], "None checked: every event type.");
  const description = h("input", { value: hook?.description || "", maxlength: 500 });
  const enabled = checkbox("Enabled (deliver events)", hook ? hook.enabled : true);
  return formDialog(hook ? `Edit webhook #${hook.id}` : "Add a webhook", () => [
    field("URL", url, "An http or https URL; redirects are not followed."),
    field(hook ? "New secret" : "Secret", secret, hook
      ? "Empty: keep the current secret."
      : "Key for the X-Ampyre-Signature HMAC. Empty: a strong one is generated and shown once."),
    events.el,
    field("Description", description),
    enabled.el,
  ], () => {
    const body = {
      url: url.value.trim(),
      event_types: events.values(),
      enabled: enabled.input.checked,
      description: optional(description.value),
    };
    if (secret.value) body.secret = secret.value;
    return hook ? api.patch(`/webhooks/${seg(hook.id)}`, body) : api.post("/webhooks", body);
  }, { submitLabel: hook ? "Save" : "Add" }).then((saved) => {
    if (saved && hook) toast(`Webhook #${saved.id} saved.`, "ok");
    return saved;
  });
}

export async function createWebhook() {
  const created = await webhookForm(null);
  if (!created) return null;
  if (created.secret) {
    resultDialog("Webhook added", [
      h("p", {}, "Receivers check each delivery's X-Ampyre-Signature with this secret."),
      secretBox("Generated secret", created.secret, "Copy the secret now: it is not shown again."),
    ]);
  } else {
    toast(`Webhook #${created.id} added.`, "ok");
  }
  return created;
}

export async function pingWebhook(hook) {
  return attempt(() => api.post(`/webhooks/${seg(hook.id)}/ping`),
    "Ping queued: see its outcome in the deliveries.");
}

export async function deleteWebhook(hook) {
  const ok = await confirmDialog(`Delete webhook #${hook.id}?`,
    `${hook.url} gets no more events; its delivery history is deleted, queued deliveries are not sent.`,
    { confirmLabel: "Delete", danger: true });
  if (!ok) return false;
  return (await attempt(() => api.del(`/webhooks/${seg(hook.id)}`), "Webhook deleted.")) !== undefined;
}

export function eventList(hook) {
  return hook.event_types?.length ? hook.event_types.join(", ") : "all events";
}

export default {
  path: "/webhooks",
  title: "Webhooks",
  role: "admin",
  nav: { label: "Webhooks", order: 60 },

  async render(root) {
    let table = null;
    const add = h("button", {
      type: "button", class: "primary",
      onclick: async () => {
        if (await createWebhook()) table.reload();
      },
    }, "Add webhook");
    table = pagedTable({
      caption: "Webhooks",
      pageSize: 25,
      empty: "No webhooks yet.",
      rowKey: (w) => w.id,
      columns: [
        { key: "id", label: "#", class: "num nowrap" },
        { key: "url", label: "URL", render: (w) => h("a", { href: href(`/webhooks/${seg(w.id)}`) }, w.url) },
        { key: "event_types", label: "Events", render: eventList },
        { key: "enabled", label: "State", render: (w) => badge(w.enabled ? "enabled" : "disabled") },
        { key: "description", label: "Description", render: (w) => fmt.text(w.description) },
        { key: "created_at", label: "Created", render: (w) => fmt.time(w.created_at) },
        {
          key: "actions", label: "Actions", render: (w) => h("div", { class: "row-actions" },
            h("a", { class: "button small", href: href(`/webhooks/${seg(w.id)}`) }, "Deliveries"),
            h("button", { type: "button", class: "small", onclick: async () => { if (await webhookForm(w)) table.reload(); } }, "Edit"),
            h("button", { type: "button", class: "small", onclick: async () => { if (await pingWebhook(w)) go(`/webhooks/${seg(w.id)}`); } }, "Ping"),
            h("button", { type: "button", class: "small danger", onclick: async () => { if (await deleteWebhook(w)) table.reload(); } }, "Delete")),
        },
      ],
      load: ({ limit, offset }) => api.get("/webhooks", { limit, offset }),
    });
    root.append(pageHeader("Webhooks", add),
      h("p", { class: "muted" }, "Each event is POSTed as JSON to the URL, signed with HMAC-SHA256 (header X-Ampyre-Signature); failed deliveries are retried with backoff."),
      table.el);
  },
};
