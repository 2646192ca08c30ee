// Roaming tokens (issue 20, OCPI 2.2.1 mod_tokens), on one page with three views
// (/roaming/tokens): the tokens eMSP partners gave us as a CPO (pushed, pulled or carried
// by a command; operators pull a partner's whole list now), our own id tokens as they are
// published to CPO partners (operators publish the changes now), and the roaming
// authorizations (?view=authorizations: whitelist, real-time asked or answered, command
// grants) with their outcome. `receivedToken` (/roaming/tokens/:id) shows one received
// token with its OCPI object. Everything a partner sent is shown as text only.

import { api, seg } from "../api.js";
import { formDialog } from "../components/dialog.js";
import { attempt, badge, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h, select } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";
import { can } from "../session.js";
import { jsonDetails, listLoader, partnerLink, partnerNames, subnav, when } from "./roaming/common.js";
import { ago, reloadKeepingFocus, throttled } from "./security.js";

const POLL_MS = 15000;

const VIEWS = [
  ["received", "From eMSPs"],
  ["published", "Ours, published"],
  ["authorizations", "Authorizations"],
];

/** The registered partners that have `role` (CPO / EMSP) among their parties. */
export async function partnersWithRole(role) {
  const page = await api.get("/ocpi/partners", { limit: 500 });
  const items = Array.isArray(page) ? page : page?.items || [];
  return items.filter((p) => p.status === "REGISTERED" && (p.roles || []).some((r) => r.role === role));
}

/** What an error status of an OCPI action means (shown above the API's problem detail). */
function ocpiHint(status) {
  switch (status) {
    case 404: return "Not found: the partner does not exist (any more).";
    case 409: return "Nothing was done: the partner is not registered, or did not list the interface this needs.";
    case 422: return "Nothing was sent: a field is missing or not valid.";
    case 502: return "The partner could not be reached, or answered with an error.";
    case 503: return "Roaming (OCPI) is not available on this server.";
    case 403: return "Your role may not do this.";
    default: return null;
  }
}

/** "HTTP 409. Nothing was done: …" for a failed request (the problem detail is shown
 *  below it by the dialog). */
export function statusHint(err) {
  return [err?.status ? `HTTP ${err.status}.` : null, ocpiHint(err?.status)].filter(Boolean).join(" ");
}

/** A token's validity as a badge. */
function validBadge(valid) {
  if (valid === true) return badge("valid", "badge-ok");
  if (valid === false) return badge("not valid", "badge-failed");
  return fmt.DASH;
}

function partyText(t) {
  return t?.country_code || t?.party_id ? `${fmt.text(t.country_code)}/${fmt.text(t.party_id)}` : fmt.DASH;
}

function uidCell(t, link) {
  const uid = h("code", {}, fmt.text(t?.uid));
  return h("span", {}, link ? h("a", { href: link }, uid) : uid,
    t?.type ? h("small", { class: "muted" }, ` ${t.type}`) : null);
}

function sourceText(source) {
  return source === "command" ? "carried by a command" : source === "push" ? "pushed or pulled" : fmt.text(source);
}

// ------------------------------------------------------------------ received

/** A text filter that only goes to the API once it has its full length (the API wants
 *  exactly 2 / 3 characters): nothing is refused while typing. */
function exactInput(name, length, value) {
  return h("input", {
    name, maxlength: length, size: length + 2, autocomplete: "off", spellcheck: "false", value: value || "",
  });
}

function exactValue(input, length) {
  const v = input.value.trim().toUpperCase();
  return v.length === length ? v : null;
}

async function pullDialog(onDone) {
  let partners;
  try {
    partners = await partnersWithRole("EMSP");
  } catch (err) {
    toast(err?.detail || err?.message || String(err), "error", 8000);
    return;
  }
  const partner = select({ name: "partner_id", required: true },
    [["", partners.length ? "Choose a partner" : "No registered eMSP partner"], ...partners.map((p) => [p.id, p.name])], "");
  const hint = h("p", { class: "command-hint", "aria-live": "polite" });
  const answer = await formDialog("Pull tokens from an eMSP", () => [
    h("p", { class: "muted" }, "Fetches the partner's whole token list now (its tokens Sender interface); tokens it no longer lists stay as they were."),
    field("eMSP partner", partner),
    hint,
  ], async () => {
    hint.textContent = "";
    const chosen = partners.find((p) => String(p.id) === partner.value);
    try {
      const result = await api.post(`/ocpi/partners/${seg(partner.value)}/tokens/pull`);
      return { count: Number(result?.count ?? 0), name: chosen?.name || `Partner ${partner.value}` };
    } catch (err) {
      hint.textContent = statusHint(err);
      throw err;
    }
  }, { submitLabel: "Pull tokens" });
  if (!answer) return;
  toast(`${answer.count} ${answer.count === 1 ? "token" : "tokens"} pulled from ${answer.name}.`, "ok");
  onDone();
}

function receivedView(ctx, names, notice) {
  const q = ctx.query;
  const country = exactInput("country_code", 2, q.get("country_code"));
  const party = exactInput("party_id", 3, q.get("party_id"));
  const uid = h("input", { name: "uid", type: "search", maxlength: 36, autocomplete: "off", spellcheck: "false", value: q.get("uid") || "" });
  const loader = listLoader("/ocpi/received/tokens", notice, "Roaming tokens",
    () => ({ country_code: exactValue(country, 2), party_id: exactValue(party, 3), uid: uid.value.trim() || null }),
    (p) => setQuery(p));
  const table = pagedTable({
    caption: "Tokens received from eMSP partners",
    pageSize: 25,
    empty: "No received tokens.",
    rowKey: (s) => String(s.id),
    filters: [
      field("Country code", country, "2 letters"),
      field("Party id", party, "3 characters"),
      field("Token uid", uid),
    ],
    load: loader.load,
    columns: [
      { key: "uid", label: "Token", render: (s) => uidCell(s.token, href(`/roaming/tokens/${seg(s.id)}`)) },
      { key: "party", label: "Owner", render: (s) => partyText(s.token) },
      { key: "partner", label: "From partner", render: (s) => partnerLink(s.partner_id, names) },
      { key: "contract", label: "Contract id", render: (s) => h("code", { class: "wrap" }, fmt.text(s.token?.contract_id)) },
      { key: "valid", label: "Valid", render: (s) => validBadge(s.token?.valid) },
      { key: "whitelist", label: "Whitelist", render: (s) => fmt.text(s.token?.whitelist) },
      { key: "source", label: "How", render: (s) => sourceText(s.source) },
      { key: "received_at", label: "Received", render: (s) => ago(s.received_at) },
    ],
  });
  const restart = debounce(() => table.restart(), 300);
  for (const input of [country, party, uid]) input.addEventListener("input", restart);
  const pull = can("operator")
    ? h("button", { type: "button", onclick: () => pullDialog(() => table.reload()) }, "Pull tokens…")
    : null;
  return {
    action: pull,
    intro: "The tokens eMSP partners gave us as a CPO: pushed to us, pulled from their list, or carried by a command. Drivers charge with them at our stations.",
    el: table.el,
    refresh: () => {
      if (!loader.state.missing) reloadKeepingFocus(table);
    },
  };
}

// ------------------------------------------------------------------ published

function publishedView(ctx, notice) {
  const loader = listLoader("/ocpi/published/tokens", notice, "Published tokens", () => ({}),
    () => setQuery({ view: "published" }));
  const table = pagedTable({
    caption: "Our tokens as published to CPO partners",
    pageSize: 25,
    empty: "No token is published yet.",
    rowKey: (t) => `${t.type}:${t.uid}`,
    load: loader.load,
    columns: [
      { key: "uid", label: "Token", render: (t) => uidCell(t, null) },
      { key: "contract", label: "Contract id", render: (t) => h("code", { class: "wrap" }, fmt.text(t.contract_id)) },
      { key: "visual", label: "Visual number", render: (t) => fmt.text(t.visual_number) },
      { key: "group", label: "Group", render: (t) => fmt.text(t.group_id) },
      { key: "valid", label: "Valid", render: (t) => validBadge(t.valid) },
      { key: "whitelist", label: "Whitelist", render: (t) => fmt.text(t.whitelist) },
      { key: "updated", label: "Last updated", render: (t) => when(t.last_updated) },
      { key: "json", label: "OCPI object", render: (t) => jsonDetails("Show", t, `token-${t.type}-${t.uid}`) },
    ],
  });
  const sync = can("operator") ? h("button", {
    type: "button", class: "primary",
    onclick: async () => {
      sync.disabled = true;
      try {
        const answer = await attempt(() => api.post("/ocpi/published/tokens/sync"), (r) => {
          const n = Number(r?.count ?? 0);
          return n === 0 ? "Nothing changed: every token was already published."
            : `${n} ${n === 1 ? "token" : "tokens"} published to the CPO partners.`;
        });
        if (answer !== undefined) table.reload();
      } finally {
        sync.disabled = false;
      }
    },
  }, "Sync now") : null;
  return {
    action: sync,
    intro: "Our id tokens as CPO partners get them (as eMSP): changes are published every few seconds; Sync now compares and pushes them at once.",
    el: table.el,
    refresh: () => {
      if (!loader.state.missing) reloadKeepingFocus(table);
    },
  };
}

// ------------------------------------------------------------------ authorizations

const KINDS = {
  whitelist: "whitelist (the pushed token decided)",
  realtime: "real-time (we asked the eMSP)",
  command: "command grant (the eMSP's command)",
  answered: "answered (a CPO asked us)",
};

const OUTCOME_TONES = {
  ACCEPTED: "badge-ok", ALLOWED: "badge-ok", BLOCKED: "badge-failed", EXPIRED: "badge-expired",
  INVALID: "badge-failed", NO_CREDIT: "badge-expired", NOT_ALLOWED: "badge-failed", UNKNOWN: "badge-unknown",
};

function outcomeBadge(value) {
  if (value === null || value === undefined || value === "") return fmt.DASH;
  const s = String(value);
  return badge(s, OUTCOME_TONES[s.toUpperCase()] || "badge-unknown");
}

function placeText(a) {
  if (a.station_id) {
    return h("span", {}, h("a", { href: href(`/stations/${seg(a.station_id)}`) }, a.station_id),
      a.evse_id !== null && a.evse_id !== undefined ? ` · EVSE ${a.evse_id}` : "");
  }
  return a.location_id ? `location ${a.location_id}` : fmt.DASH;
}

function authorizationsView(ctx, names, notice) {
  const loader = listLoader("/ocpi/authorizations", notice, "Roaming authorizations", () => ({}),
    () => setQuery({ view: "authorizations" }));
  const table = pagedTable({
    caption: "Roaming authorizations, newest first",
    pageSize: 25,
    empty: "No roaming authorization yet.",
    rowKey: (a) => String(a.id),
    load: loader.load,
    columns: [
      { key: "created_at", label: "When", class: "nowrap", render: (a) => ago(a.created_at) },
      { key: "kind", label: "Kind", render: (a) => KINDS[a.kind] || fmt.text(a.kind) },
      { key: "token", label: "Token", render: (a) => h("span", {}, uidCell({ uid: a.uid, type: a.token_type }, null),
        a.country_code ? h("small", { class: "muted" }, ` (${partyText(a)})`) : null) },
      { key: "partner", label: "Partner", render: (a) => partnerLink(a.partner_id, names) },
      { key: "where", label: "Where", render: placeText },
      { key: "allowed", label: "eMSP answer", render: (a) => outcomeBadge(a.allowed) },
      { key: "outcome", label: "Outcome", render: (a) => outcomeBadge(a.outcome) },
      { key: "reason", label: "Reason", render: (a) => (a.reason ? h("span", { class: "roaming-error" }, a.reason) : fmt.DASH) },
      { key: "valid_until", label: "Valid until", render: (a) => when(a.valid_until) },
    ],
  });
  return {
    action: null,
    intro: "How roaming tokens were authorized: by the token an eMSP pushed (whitelist), by asking the eMSP in real time, by an eMSP's command, and what we answered CPOs asking about our tokens.",
    el: table.el,
    refresh: () => {
      if (!loader.state.missing) reloadKeepingFocus(table);
    },
  };
}

export default {
  path: "/roaming/tokens",
  title: "Roaming tokens",

  async render(root, ctx) {
    const asked = ctx.query.get("view");
    const view = VIEWS.some(([key]) => key === asked) ? asked : "received";
    const names = view === "published" ? new Map() : await partnerNames();
    if (!ctx.alive) return;
    const notice = h("div");
    const shown = view === "published" ? publishedView(ctx, notice)
      : view === "authorizations" ? authorizationsView(ctx, names, notice)
        : receivedView(ctx, names, notice);
    const refresh = throttled(ctx, shown.refresh);
    ctx.every(POLL_MS, refresh);
    ctx.live("reset", refresh);
    root.append(
      subnav("/roaming/tokens"),
      pageHeader("Roaming tokens", shown.action),
      h("div", { class: "tabs", role: "navigation", "aria-label": "Which tokens" },
        VIEWS.map(([key, label]) => h("a", {
          href: href("/roaming/tokens", key === "received" ? null : { view: key }),
          "aria-current": key === view ? "page" : null,
        }, label))),
      h("p", { class: "muted" }, shown.intro),
      notice, shown.el);
  },
};

// ------------------------------------------------------------------ one received token

function tokenView(s, names) {
  const t = s.token || {};
  const contract = t.energy_contract
    ? `${fmt.text(t.energy_contract.supplier_name)}${t.energy_contract.contract_id ? ` (${t.energy_contract.contract_id})` : ""}`
    : null;
  return h("dl", { class: "props" },
    h("dt", {}, "Uid"), h("dd", {}, h("code", { class: "wrap" }, fmt.text(t.uid))),
    h("dt", {}, "Type"), h("dd", {}, fmt.text(t.type)),
    h("dt", {}, "Owner"), h("dd", {}, partyText(t)),
    h("dt", {}, "From partner"), h("dd", {}, partnerLink(s.partner_id, names)),
    h("dt", {}, "How"), h("dd", {}, sourceText(s.source)),
    h("dt", {}, "Valid"), h("dd", {}, validBadge(t.valid)),
    h("dt", {}, "Whitelist"), h("dd", {}, fmt.text(t.whitelist)),
    h("dt", {}, "Contract id"), h("dd", {}, h("code", { class: "wrap" }, fmt.text(t.contract_id))),
    h("dt", {}, "Visual number"), h("dd", {}, fmt.text(t.visual_number)),
    h("dt", {}, "Issuer"), h("dd", {}, fmt.text(t.issuer)),
    h("dt", {}, "Group"), h("dd", {}, fmt.text(t.group_id)),
    h("dt", {}, "Language"), h("dd", {}, fmt.text(t.language)),
    h("dt", {}, "Default profile"), h("dd", {}, fmt.text(t.default_profile_type)),
    h("dt", {}, "Energy contract"), h("dd", {}, fmt.text(contract)),
    h("dt", {}, "Last updated"), h("dd", {}, when(t.last_updated)),
    h("dt", {}, "Received"), h("dd", {}, when(s.received_at)));
}

export const receivedToken = {
  path: "/roaming/tokens/:id",
  title: (params) => `Roaming token ${params.id}`,

  async render(root, ctx) {
    let s;
    try {
      s = await api.get(`/ocpi/received/tokens/${seg(ctx.params.id)}`);
    } catch (err) {
      if (err.status !== 404 && err.status !== 422) throw err;
      root.append(subnav("/roaming/tokens"), h("h1", {}, "Roaming token ", ctx.params.id),
        h("p", { role: "alert" }, "There is no such token. ", h("a", { href: href("/roaming/tokens") }, "All roaming tokens")));
      return;
    }
    if (!ctx.alive) return;
    const names = await partnerNames();
    if (!ctx.alive) return;
    root.append(
      subnav("/roaming/tokens"),
      h("p", { class: "crumbs" }, h("a", { href: href("/roaming/tokens") }, "‹ Roaming tokens")),
      pageHeader(`Roaming token ${fmt.text(s.token?.uid)}`),
      card("Token", tokenView(s, names)),
      card("OCPI object", jsonDetails("The OCPI Token object", s.token || {}, "token-json")));
  },
};
