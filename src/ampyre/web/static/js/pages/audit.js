// The operator audit trail (admin): every write and command made through the API, newest
// first, with who (the token's name, "user:NAME" for a signed-in user), what, on which
// station, and how it ended. The API filters by who, station and time; the request body
// is shown as the server stored it, secrets masked (***).

import { api, seg } from "../api.js";
import { resultDialog } from "../components/dialog.js";
import { isoFromLocal, localInputValue } from "../components/forms.js";
import { badge } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { debounce, field, h } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href, setQuery } from "../router.js";

function props(pairs) {
  return h("dl", { class: "props" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** The stored request body, pretty-printed when it is JSON (it is text either way). */
function bodyText(summary) {
  if (!summary) return "(no body)";
  try {
    return fmt.json(JSON.parse(summary));
  } catch {
    return summary;
  }
}

function outcomeBadge(a) {
  const kind = a.status_code >= 500 ? "error" : a.status_code >= 400 ? "rejected" : "ok";
  return h("span", { class: `badge badge-${kind}` }, String(a.status_code));
}

function details(a) {
  resultDialog(`Audit entry #${a.id ?? ""}`, [
    props([
      ["When", fmt.time(a.created_at)],
      ["Who", `${fmt.text(a.token_name)}${a.role ? ` (${a.role})` : ""}`],
      ["Token id", fmt.text(a.token_id)],
      ["Request", `${a.method} ${a.target}`],
      ["Station", fmt.text(a.station_id)],
      ["HTTP status", String(a.status_code)],
      ["Outcome", fmt.text(a.outcome)],
      ["Duration", `${a.duration_ms} ms`],
    ]),
    h("h3", {}, "Request body"),
    h("pre", {}, bodyText(a.summary)),
  ]);
}

export default {
  path: "/audit",
  title: "Audit",
  role: "admin",
  nav: { label: "Audit", order: 80 },

  async render(root, ctx) {
    const q = ctx.query;
    const who = h("input", { type: "search", value: q.get("who") || "", maxlength: 255, autocomplete: "off", placeholder: "token name or user:NAME" });
    const station = h("input", { type: "search", value: q.get("station_id") || "", maxlength: 255, autocomplete: "off" });
    const since = h("input", { type: "datetime-local", value: localInputValue(q.get("since")) });
    const until = h("input", { type: "datetime-local", value: localInputValue(q.get("until")) });
    const clear = h("button", {
      type: "button",
      onclick: () => {
        for (const input of [who, station, since, until]) input.value = "";
        table.restart();
      },
    }, "Clear filters");

    const filters = () => ({
      token_name: who.value.trim(),
      station_id: station.value.trim(),
      since: isoFromLocal(since.value),
      until: isoFromLocal(until.value),
    });

    const table = pagedTable({
      caption: "Operator actions",
      pageSize: 50,
      empty: "Nothing recorded.",
      filters: [
        field("Who (exact)", who), field("Station id", station),
        field("From", since), field("Until", until), clear,
      ],
      columns: [
        { key: "created_at", label: "When", render: (a) => fmt.time(a.created_at) },
        { key: "token_name", label: "Who", render: (a) => h("span", {},
          a.token_name ? h("button", {
            type: "button", class: "link", title: "Show only this one's actions",
            onclick: () => {
              who.value = a.token_name;
              table.restart();
            },
          }, a.token_name) : fmt.DASH,
          a.role ? h("small", { class: "muted" }, ` (${a.role})`) : null) },
        { key: "method", label: "Method", class: "nowrap", render: (a) => h("code", {}, a.method) },
        { key: "target", label: "Target", render: (a) => h("code", { class: "wrap" }, a.target) },
        { key: "station_id", label: "Station", render: (a) => (a.station_id ? h("a", { href: href(`/stations/${seg(a.station_id)}`) }, a.station_id) : fmt.DASH) },
        { key: "status_code", label: "Status", class: "nowrap", render: outcomeBadge },
        { key: "outcome", label: "Outcome", render: (a) => fmt.text(a.outcome) },
        { key: "duration_ms", label: "ms", class: "num nowrap" },
        { key: "details", label: "Details", class: "nowrap", render: (a) => h("button", { type: "button", class: "small", onclick: () => details(a), "aria-label": `Details of entry ${a.id}` }, "Details") },
      ],
      load: ({ limit, offset }) => api.get("/audit", { limit, offset, ...filters() }),
      onState: () => {
        const f = filters();
        setQuery({ who: f.token_name, station_id: f.station_id, since: f.since, until: f.until });
      },
    });
    const restart = debounce(() => table.restart(), 300);
    who.addEventListener("input", restart);
    station.addEventListener("input", restart);
    since.addEventListener("change", () => table.restart());
    until.addEventListener("change", () => table.restart());

    root.append(pageHeader("Audit"),
      h("p", { class: "muted" }, "Writes and commands made through the API and this dashboard, newest first. Secrets in request bodies are masked."),
      table.el);
  },
};
