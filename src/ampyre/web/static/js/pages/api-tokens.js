// API tokens (admin): bearer tokens for scripts and integrations. The secret is shown
// once, right after creation (only its hash is stored); revoking is final.

import { api, seg } from "../api.js";
import { confirmDialog, formDialog, resultDialog } from "../components/dialog.js";
import { secretBox } from "../components/forms.js";
import { attempt, badge } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";

export const ROLES = [
  ["viewer", "viewer (read only)"],
  ["operator", "operator (commands, id tokens, reservations)"],
  ["admin", "admin (everything)"],
];

export default {
  path: "/api-tokens",
  title: "API tokens",
  role: "admin",
  nav: { label: "API tokens", order: 70 },

  async render(root) {
    let table = null;

    async function create() {
      const name = h("input", { required: true, maxlength: 100, autocomplete: "off" });
      const role = select({ required: true }, ROLES, "viewer");
      const created = await formDialog("Create an API token", () => [
        field("Name", name, "Who or what uses it, e.g. billing-export."),
        field("Role", role),
      ], () => api.post("/tokens", { name: name.value.trim(), role: role.value }), { submitLabel: "Create" });
      if (!created) return;
      resultDialog(`Token ${created.name} created`, [
        secretBox("Token", created.token, "Copy the token now: it is shown only this once and cannot be recovered."),
        h("p", { class: "muted" }, "Send it as the header Authorization: Bearer <token>."),
      ]);
      table.reload();
    }

    async function revoke(t) {
      const ok = await confirmDialog(`Revoke ${t.name}?`,
        `Requests with this ${t.role} token are refused from now on. This cannot be undone.`,
        { confirmLabel: "Revoke", danger: true });
      if (!ok) return;
      const done = await attempt(() => api.del(`/tokens/${seg(t.id)}`), `${t.name} revoked.`);
      if (done !== undefined) table.reload();
    }

    table = pagedTable({
      caption: "API tokens",
      pageSize: 25,
      empty: "No API tokens.",
      rowKey: (t) => t.id,
      columns: [
        { key: "id", label: "#", class: "num nowrap" },
        { key: "name", label: "Name" },
        { key: "role", label: "Role" },
        { key: "created_at", label: "Created", render: (t) => fmt.time(t.created_at) },
        { key: "last_used_at", label: "Last used", render: (t) => (t.last_used_at ? h("span", { title: fmt.time(t.last_used_at) }, fmt.ago(t.last_used_at)) : "never") },
        { key: "revoked", label: "State", render: (t) => badge(t.revoked ? "revoked" : "active") },
        {
          key: "actions", label: "Actions",
          render: (t) => (t.revoked ? null : h("button", { type: "button", class: "small danger", onclick: () => revoke(t) }, "Revoke")),
        },
      ],
      load: ({ limit, offset }) => api.get("/tokens", { limit, offset }),
    });
    root.append(pageHeader("API tokens", h("button", { type: "button", class: "primary", onclick: create }, "Create token")),
      h("p", { class: "muted" }, "Bearer tokens for scripts and other systems; people sign in with a user instead."),
      table.el);
  },
};
