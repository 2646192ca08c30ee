// Dashboard users (admin): create, change role, reset password, disable / enable, delete.
// The server keeps at least one enabled admin and refuses otherwise; its message is shown
// as it comes. A new password or disabling ends that user's sessions.

import { api, seg } from "../api.js";
import { newPassword } from "../components/account.js";
import { confirmDialog, formDialog, resultDialog } from "../components/dialog.js";
import { badge, errorBox, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { session } from "../session.js";
import { ROLES } from "./api-tokens.js";

/** Run a write; a refusal (e.g. the last admin) is shown in a dialog, not a passing toast. */
async function write(title, action, okMessage) {
  try {
    const out = await action();
    toast(okMessage, "ok");
    return out ?? true;
  } catch (err) {
    resultDialog(title, errorBox(err));
    return null;
  }
}

function state(u) {
  if (u.disabled) return badge("disabled");
  if (u.locked_until && new Date(u.locked_until) > new Date()) {
    return h("span", { title: `until ${fmt.time(u.locked_until)}` }, badge("locked"));
  }
  return badge("active");
}

export default {
  path: "/users",
  title: "Users",
  role: "admin",
  nav: { label: "Users", order: 90 },

  async render(root) {
    let table = null;
    const me = session.user?.id;

    async function create() {
      const name = h("input", { required: true, maxlength: 64, autocomplete: "off", spellcheck: "false" });
      const role = select({}, ROLES, "viewer");
      const password = newPassword("Password");
      const created = await formDialog("Add a user", () => [
        field("User name", name, "Letters, digits and . _ @ - (starting with a letter or digit)."),
        field("Role", role),
        ...password.fields,
      ], () => api.post("/users", { name: name.value.trim(), role: role.value, password: password.value() }), { submitLabel: "Add" });
      if (created) {
        toast(`User ${created.name} added.`, "ok");
        table.reload();
      }
    }

    async function changeRole(u) {
      const role = select({}, ROLES, u.role);
      const saved = await formDialog(`Role of ${u.name}`, () => [field("Role", role)],
        () => api.patch(`/users/${seg(u.id)}`, { role: role.value }));
      if (saved) {
        toast(`${u.name} is ${saved.role} now.`, "ok");
        table.reload();
      }
    }

    async function resetPassword(u) {
      const password = newPassword();
      const saved = await formDialog(`New password for ${u.name}`, () => [
        h("p", { class: "muted" }, u.id === me ? "Your other sessions end; this one stays." : `${u.name}'s sessions end; a lock from failed sign-ins is lifted.`),
        ...password.fields,
      ], () => api.patch(`/users/${seg(u.id)}`, { password: password.value() }), { submitLabel: "Set password" });
      if (saved) toast(`Password of ${u.name} set.`, "ok");
      table.reload();
    }

    async function toggle(u) {
      const disable = !u.disabled;
      if (disable) {
        const ok = await confirmDialog(`Disable ${u.name}?`,
          u.id === me ? "You will be signed out and cannot sign in again until another admin enables you."
            : `${u.name} is signed out and cannot sign in until enabled again.`,
          { confirmLabel: "Disable", danger: true });
        if (!ok) return;
      }
      const done = await write(disable ? "Not disabled" : "Not enabled",
        () => api.patch(`/users/${seg(u.id)}`, { disabled: disable }),
        `${u.name} ${disable ? "disabled" : "enabled"}.`);
      if (done) table.reload();
    }

    async function remove(u) {
      const ok = await confirmDialog(`Delete ${u.name}?`,
        `${u.name} is signed out and removed. The audit trail keeps their actions.`,
        { confirmLabel: "Delete", danger: true });
      if (!ok) return;
      const done = await write("Not deleted", () => api.del(`/users/${seg(u.id)}`), `${u.name} deleted.`);
      if (done) table.reload();
    }

    table = pagedTable({
      caption: "Users",
      pageSize: 50,
      empty: "No users.",
      rowKey: (u) => u.id,
      columns: [
        { key: "name", label: "Name", render: (u) => h("span", {}, u.name, u.id === me ? h("small", { class: "muted" }, " (you)") : null) },
        { key: "role", label: "Role" },
        { key: "state", label: "State", render: state },
        { key: "last_login_at", label: "Last sign-in", render: (u) => (u.last_login_at ? h("span", { title: fmt.time(u.last_login_at) }, fmt.ago(u.last_login_at)) : "never") },
        { key: "created_at", label: "Created", render: (u) => fmt.time(u.created_at) },
        {
          key: "actions", label: "Actions", render: (u) => h("div", { class: "row-actions" },
            h("button", { type: "button", class: "small", onclick: () => changeRole(u) }, "Role"),
            h("button", { type: "button", class: "small", onclick: () => resetPassword(u) }, "Password"),
            h("button", { type: "button", class: "small", onclick: () => toggle(u) }, u.disabled ? "Enable" : "Disable"),
            h("button", { type: "button", class: "small danger", onclick: () => remove(u) }, "Delete")),
        },
      ],
      load: ({ limit, offset }) => api.get("/users", { limit, offset }),
    });
    root.append(pageHeader("Users", h("button", { type: "button", class: "primary", onclick: create }, "Add user")),
      h("p", { class: "muted" }, "People who sign in to this dashboard. Scripts use API tokens instead."),
      table.el);
  },
};
