// One roaming partner (/roaming/partners/:id): its handshake state (PENDING until the
// token A -> B -> C exchange, then REGISTERED; UNREGISTERED after either side ended it),
// its parties (roles, country codes, party ids), the endpoints its details listed, the
// last OCPI exchanges with it (both directions, bodies on demand) and what the push
// queue still holds for it. Admins register with the partner, update the credentials
// (a new token for them, their endpoints fetched again), issue a new token A, or
// unregister and delete the partner.

import { api, seg } from "../api.js";
import { confirmDialog } from "../components/dialog.js";
import { secretBox } from "../components/forms.js";
import { attempt } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { card } from "../layout.js";
import { go, href } from "../router.js";
import { can } from "../session.js";
import { bodyText, listLoader, partnerState, subnav, urlText, when } from "./roaming/common.js";
import { pushTable } from "./roaming/push.js";
import { ago, redraw, reloadKeepingFocus, simpleTable, throttled } from "./security.js";

const POLL_MS = 10000;

function stateView(p) {
  return [
    p.last_error ? h("p", { class: "error-box", role: "alert" }, h("strong", {}, "Last error: "), String(p.last_error)) : null,
    h("dl", { class: "props" },
      h("dt", {}, "Handshake"), h("dd", {}, partnerState(p.status)),
      h("dt", {}, "Their versions URL"), h("dd", {}, urlText(p.versions_url)),
      h("dt", {}, "Their token"), h("dd", {}, p.has_token ? "known" : "none yet"),
      h("dt", {}, "OCPI version"), h("dd", {}, fmt.text(p.version)),
      h("dt", {}, "Registered"), h("dd", {}, when(p.registered_at)),
      h("dt", {}, "Created"), h("dd", {}, when(p.created_at)),
      h("dt", {}, "Updated"), h("dd", {}, when(p.updated_at))),
    p.status === "PENDING" ? h("p", { class: "muted" }, p.versions_url && p.has_token
      ? "Not registered yet: register with them (we use their token A), or wait for them to register with the token A we gave them."
      : "Not registered yet: waiting for them to register with the token A we gave them.") : null,
  ];
}

function rolesView(p) {
  return simpleTable("Parties of this partner", [
    { key: "role", label: "Role" },
    { key: "party", label: "Party", render: (r) => `${fmt.text(r.country_code)}/${fmt.text(r.party_id)}` },
    { key: "name", label: "Business name", render: (r) => fmt.text(r.name) },
    { key: "website", label: "Website", render: (r) => urlText(r.website) },
  ], p.roles || [], "No parties yet (known after the registration).");
}

function endpointsView(p) {
  return simpleTable("Endpoints of this partner", [
    { key: "identifier", label: "Module", render: (e) => h("code", {}, fmt.text(e.identifier)) },
    { key: "role", label: "Interface", render: (e) => fmt.text(e.role) },
    { key: "url", label: "URL", render: (e) => urlText(e.url) },
  ], p.endpoints || [], "No endpoints yet (known after the registration).");
}

function answerText(x) {
  const parts = [];
  if (x.http_status !== null && x.http_status !== undefined) parts.push(`HTTP ${x.http_status}`);
  if (x.status_code !== null && x.status_code !== undefined) parts.push(`OCPI ${x.status_code}`);
  if (x.error) parts.push(String(x.error));
  return parts.length ? parts.join(" · ") : fmt.DASH;
}

function exchangeBodies(x) {
  return h("details", { class: "json-details", dataset: { key: `x-${x.id}` } },
    h("summary", {}, "Bodies"),
    h("p", { class: "muted" }, "Request id ", h("code", { class: "wrap" }, fmt.text(x.request_id)),
      ", correlation id ", h("code", { class: "wrap" }, fmt.text(x.correlation_id))),
    h("h3", {}, "Request"), h("pre", {}, bodyText(x.request_body)),
    h("h3", {}, "Response"), h("pre", {}, bodyText(x.response_body)));
}

function exchangesTable(id) {
  const notice = h("div");
  const loader = listLoader(`/ocpi/partners/${seg(id)}/exchanges`, notice, "The OCPI exchange log");
  const table = pagedTable({
    caption: "Last OCPI exchanges with this partner, newest first",
    pageSize: 20,
    empty: "No exchanges yet.",
    rowKey: (x) => String(x.id),
    load: loader.load,
    columns: [
      { key: "created_at", label: "When", class: "nowrap", render: (x) => ago(x.created_at) },
      { key: "direction", label: "Direction", render: (x) => (x.direction === "in"
        ? h("span", { class: "dir dir-in" }, "← from them") : h("span", { class: "dir dir-out" }, "→ to them")) },
      { key: "request", label: "Request", render: (x) => h("span", {}, h("strong", {}, fmt.text(x.method)), " ", urlText(x.url)) },
      { key: "answer", label: "Answer", render: answerText },
      { key: "duration", label: "Time", class: "num nowrap", render: (x) => (x.duration_ms === null || x.duration_ms === undefined ? fmt.DASH : `${fmt.number(x.duration_ms)} ms`) },
      { key: "bodies", label: "Bodies", render: exchangeBodies },
    ],
  });
  return { el: h("div", {}, notice, table.el), table, loader };
}

/** Ask for a new token A (a partner that is not registered); shown once. */
async function newTokenA(path, out) {
  const answer = await attempt(() => api.post(`${path}/token-a`));
  if (!answer) return;
  const me = await api.get("/ocpi/identity").catch(() => null);
  replace(out, secretBox("New token A", String(answer.token_a || ""),
    "Copy the new token A now: it is shown only this once, and the previous one no longer works."),
  me?.versions_url ? h("p", {}, "Our versions URL: ", urlText(me.versions_url)) : null);
}

export default {
  path: "/roaming/partners/:id",
  title: (params) => `Roaming partner ${params.id}`,

  async render(root, ctx) {
    const id = ctx.params.id;
    const path = `/ocpi/partners/${seg(id)}`;
    let partner;
    try {
      partner = await api.get(path);
    } catch (err) {
      if (err.status !== 404) throw err;
      root.append(subnav("/roaming"), h("h1", {}, "Roaming partner ", id),
        h("p", { role: "alert" }, "There is no such partner (it may have been deleted). ", h("a", { href: href("/roaming") }, "All partners")));
      return;
    }
    if (!ctx.alive) return;
    document.title = `${partner.name} · Ampyre`;

    const heading = h("h1", {}, fmt.text(partner.name));
    const actions = h("div", { class: "actions" });
    const secret = h("div", { "aria-live": "polite" });
    const stateBox = h("div");
    const rolesBox = h("div");
    const endpointsBox = h("div");
    const exchanges = exchangesTable(id);
    const queue = pushTable(ctx, { partnerId: id });

    function draw(p) {
      partner = p;
      heading.textContent = p.name;
      redraw(stateBox, stateView(p));
      redraw(rolesBox, rolesView(p));
      redraw(endpointsBox, endpointsView(p));
      redraw(actions, actionButtons(p));
    }

    async function refresh() {
      try {
        const p = await api.get(path);
        if (ctx.alive) draw(p);
      } catch {
        // the next poll tries again; a deleted partner is noticed on the next visit
      }
      if (!exchanges.loader.state.missing) reloadKeepingFocus(exchanges.table);
    }

    /** Run a handshake action; the partner is drawn again with what it answered. */
    async function act(request, ok) {
      const answer = await attempt(request, ok);
      if (answer !== undefined) {
        if (answer && typeof answer === "object" && answer.id !== undefined) draw(answer);
        refresh();
        queue.reload();
      }
    }

    function actionButtons(p) {
      if (!can("admin")) return [];
      const list = [];
      const registered = p.status === "REGISTERED";
      if (!registered && p.versions_url && p.has_token) {
        list.push(h("button", { type: "button", class: "primary", onclick: () => act(() => api.post(`${path}/register`), "Registered.") }, "Register"));
      }
      if (registered) {
        list.push(h("button", {
          type: "button",
          onclick: async () => {
            const ok = await confirmDialog(`Update the credentials with ${p.name}?`,
              "Ampyre makes a new token for them and sends it with a credentials PUT; their versions and endpoints are fetched again.",
              { confirmLabel: "Update credentials" });
            if (ok) act(() => api.put(`${path}/credentials`), "Credentials updated.");
          },
        }, "Update credentials"));
      } else {
        list.push(h("button", { type: "button", onclick: () => newTokenA(path, secret) }, "New token A"));
      }
      list.push(h("button", {
        type: "button", class: "danger",
        onclick: async () => {
          const ok = await confirmDialog(registered ? `Unregister and delete ${p.name}?` : `Delete ${p.name}?`,
            registered
              ? "Ampyre tells them first (a credentials DELETE), then forgets the partner: no more pushes to it, its tokens stop working here."
              : "The partner and its token A are forgotten.",
            { confirmLabel: registered ? "Unregister and delete" : "Delete", danger: true });
          if (ok && await attempt(() => api.del(path), `${p.name} deleted.`) !== undefined) go("/roaming");
        },
      }, registered ? "Unregister" : "Delete"));
      return list;
    }

    draw(partner);
    root.append(
      subnav("/roaming"),
      h("p", { class: "crumbs" }, h("a", { href: href("/roaming") }, "‹ Roaming partners")),
      h("div", { class: "page-header" }, heading, actions),
      secret,
      h("div", { class: "grid roaming-grid" },
        card("Handshake", stateBox),
        card("Parties", rolesBox)),
      card("Endpoints", endpointsBox),
      card("Last exchanges", exchanges.el),
      card("Push queue", queue.el));
    const again = throttled(ctx, refresh);
    ctx.every(POLL_MS, again);
    ctx.live("reset", again);
  },
};
