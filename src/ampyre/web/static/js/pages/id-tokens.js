// Id tokens: the cards and other tokens stations ask about. Searchable list (the API's
// `search` matches a part of the value; `#/id-tokens?q=X` pre-fills it, the transaction
// page links here that way), create / edit with every field the API takes, block and
// unblock in one click, delete after a confirmation. Writes need the operator role.

import { api, seg } from "../api.js";
import { confirmDialog, formDialog } from "../components/dialog.js";
import { apiEnum, isoFromLocal, localInputValue, optional } from "../components/forms.js";
import { attempt, badge, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { can } from "../session.js";

const TYPES = ["Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization"];
const STATUSES = ["accepted", "blocked", "expired", "invalid"];

/** Rows of station + optional EVSE: where the token may be used (none = anywhere). */
function restrictionEditor(initial) {
  const rows = h("div", { class: "restrictions" });
  function addRow(r = {}) {
    const station = h("input", { value: r.station_id || "", maxlength: 48, required: true, autocomplete: "off" });
    const evse = h("input", { type: "number", min: 0, step: 1, value: r.evse_id ?? "", inputmode: "numeric" });
    const row = h("div", { class: "restriction-row" },
      field("Station id", station),
      field("EVSE (empty = any)", evse),
      h("button", { type: "button", class: "small", onclick: () => row.remove(), "aria-label": "Remove this restriction" }, "Remove"));
    row.read = () => ({ station_id: station.value.trim(), evse_id: evse.value === "" ? null : Number(evse.value) });
    rows.append(row);
    station.focus();
  }
  for (const r of initial || []) addRow(r);
  const el = h("fieldset", { class: "checks" },
    h("legend", {}, "Restrictions"),
    h("small", { class: "hint" }, "Where the token may be used. None: at every station."),
    rows,
    h("button", { type: "button", class: "small", onclick: () => addRow() }, "Add a station"));
  return { el, values: () => [...rows.children].map((row) => row.read()) };
}

async function tokenForm(title, token, submit) {
  const [types, statuses] = await Promise.all([
    apiEnum("IdTokenType", TYPES), apiEnum("TokenStatus", STATUSES),
  ]);
  const value = h("input", { value: token?.id_token || "", required: true, maxlength: 255, autocomplete: "off", spellcheck: "false" });
  const type = select({}, types, token?.type || "ISO14443");
  const status = select({}, statuses, token?.status || "accepted");
  const expires = h("input", { type: "datetime-local", value: localInputValue(token?.expires_at) });
  const group = h("input", { value: token?.group_id || "", maxlength: 255, autocomplete: "off" });
  const description = h("input", { value: token?.description || "", maxlength: 500 });
  const restrictions = restrictionEditor(token?.restrictions);
  return formDialog(title, () => [
    field("Token value", value, "Case insensitive. OCPP 1.6 stations accept at most 20 characters, 2.0.1 at most 36."),
    field("Type", type),
    field("Status", status),
    field("Expires (your time zone)", expires, "Empty: never. After this the token is answered Expired."),
    field("Group id", group, "1.6 parentIdTag / 2.0.1 groupIdToken. Empty: none."),
    field("Description", description),
    restrictions.el,
  ], () => submit({
    id_token: value.value.trim(),
    type: type.value,
    status: status.value,
    expires_at: isoFromLocal(expires.value),
    group_id: optional(group.value),
    description: optional(description.value),
    restrictions: restrictions.values(),
  }), { submitLabel: token ? "Save" : "Add" });
}

function where(t) {
  if (!t.restrictions?.length) return "anywhere";
  return t.restrictions.map((r) => (r.evse_id === null || r.evse_id === undefined ? r.station_id : `${r.station_id} EVSE ${r.evse_id}`)).join(", ");
}

export default {
  path: "/id-tokens",
  title: "Id tokens",
  nav: { label: "Id tokens", order: 40 },

  async render(root, ctx) {
    const operator = can("operator");
    let table = null;
    const add = operator ? h("button", {
      type: "button", class: "primary",
      onclick: async () => {
        const created = await tokenForm("Add an id token", null, (body) => api.post("/id-tokens", body));
        if (created) {
          toast(`Id token ${created.id_token} added.`, "ok");
          table.reload();
        }
      },
    }, "Add id token") : null;

    function actions(t) {
      if (!operator) return null;
      const blocked = t.status === "blocked";
      return h("div", { class: "row-actions" },
        h("button", {
          type: "button", class: "small",
          onclick: async () => {
            const saved = await tokenForm(`Edit ${t.id_token}`, t, (body) => api.patch(`/id-tokens/${seg(t.id)}`, body));
            if (saved) {
              toast(`${saved.id_token} saved.`, "ok");
              table.reload();
            }
          },
        }, "Edit"),
        h("button", {
          type: "button", class: "small",
          onclick: async () => {
            const next = blocked ? "accepted" : "blocked";
            const done = await attempt(() => api.patch(`/id-tokens/${seg(t.id)}`, { status: next }),
              `${t.id_token} is ${next} now.`);
            if (done) table.reload();
          },
        }, blocked ? "Unblock" : "Block"),
        h("button", {
          type: "button", class: "small danger",
          onclick: async () => {
            const ok = await confirmDialog(`Delete ${t.id_token}?`,
              "Stations will no longer get it accepted by Ampyre. Transactions made with it are kept.",
              { confirmLabel: "Delete", danger: true });
            if (!ok) return;
            const done = await attempt(() => api.del(`/id-tokens/${seg(t.id)}`), `${t.id_token} deleted.`);
            if (done !== undefined) table.reload();
          },
        }, "Delete"));
    }

    root.append(pageHeader("Id tokens",
      h("a", { class: "button", href: href("/local-lists") }, "Local lists"), add));

    const columns = [
      { key: "id_token", label: "Token", render: (t) => h("span", {}, t.id_token,
        t.ocpp16_usable ? null : h("small", { class: "muted", title: "longer than 20 characters" }, " (not for 1.6)")) },
      { key: "type", label: "Type", class: "nowrap" },
      { key: "status", label: "Status", class: "nowrap", render: (t) => badge(t.status) },
      { key: "expires_at", label: "Expires", render: (t) => (t.expires_at ? fmt.time(t.expires_at) : "never") },
      { key: "group_id", label: "Group", render: (t) => fmt.text(t.group_id) },
      { key: "restrictions", label: "Usable at", render: where },
      { key: "description", label: "Description", render: (t) => fmt.text(t.description) },
      { key: "transactions", label: "Transactions", render: (t) => h("a", { href: href("/transactions", { id_token: t.id_token }) }, "View") },
    ];
    if (operator) columns.push({ key: "actions", label: "Actions", render: actions });

    table = pagedTable({
      columns,
      caption: "Id tokens",
      search: "Search tokens (part of the value)",
      q: ctx.query.get("q") || "",
      pageSize: 25,
      empty: "No id tokens yet.",
      rowKey: (t) => t.id,
      load: ({ limit, offset, q }) => api.get("/id-tokens", { limit, offset, search: q }),
      onState: ({ q }) => setQuery({ q }),
    });
    root.append(table.el);
  },
};
