// The station page's Logs tab (uploaded diagnostics and security logs, with download and,
// for operators, a request form) and Display tab (2.x display messages: the stored
// state, set, clear, refresh from the station). Everything the station sent is text.

import { api, seg } from "../../api.js";
import { runCommand } from "../../components/command.js";
import { confirmDialog, formDialog } from "../../components/dialog.js";
import { badge } from "../../components/notice.js";
import { pagedTable } from "../../components/table.js";
import { field, h, select } from "../../dom.js";
import * as fmt from "../../format.js";
import { can } from "../../session.js";

const ACTIVE = new Set(["requested", "accepted", "uploading"]);

function stamp(iso) {
  return iso ? h("time", { datetime: iso, title: fmt.time(iso) }, fmt.ago(iso)) : fmt.DASH;
}

function bytes(n) {
  if (n === null || n === undefined) return fmt.DASH;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${fmt.number(n / 1024, 1)} KiB`;
  return `${fmt.number(n / (1024 * 1024), 1)} MiB`;
}

/** A download link for a log request's file, or a dash. Security logs need the admin role. */
export function downloadLink(r) {
  if (!r.has_file) return fmt.DASH;
  if (r.log_type === "security" && !can("admin")) return h("span", { class: "muted" }, "admin only");
  return h("a", {
    href: api.url(`/logs/${seg(r.id)}/file`),
    download: "",
    "aria-label": `Download log ${r.id} (${r.log_type}, ${bytes(r.size)})`,
  }, "Download");
}

/** The columns of a list of log requests (`withStation`: a station column first). */
export function logColumns(withStation, stationLink) {
  return [
    withStation ? { key: "station_id", label: "Station", render: stationLink } : null,
    { key: "id", label: "Request", class: "num", render: (r) => `#${r.id}` },
    { key: "log_type", label: "Type", render: (r) => r.log_type },
    { key: "status", label: "Status", render: (r) => badge(r.status) },
    { key: "requested_at", label: "Requested", render: (r) => stamp(r.requested_at) },
    { key: "filename", label: "File (station's name)", render: (r) => fmt.text(r.filename) },
    { key: "size", label: "Size", class: "num", render: (r) => bytes(r.size) },
    { key: "sha256", label: "SHA-256", render: (r) => (r.sha256 ? h("code", { title: r.sha256 }, `${r.sha256.slice(0, 12)}…`) : fmt.DASH) },
    { key: "download", label: "File", render: downloadLink },
  ].filter((c) => c);
}

export function logsTab(panel, env) {
  let active = false;
  const table = pagedTable({
    caption: "Log requests of this station, newest first",
    pageSize: 20,
    empty: "No logs requested from this station yet.",
    rowKey: (r) => String(r.id),
    columns: logColumns(false),
    load: async ({ limit, offset }) => {
      const page = await api.get(`${env.path}/logs`, { limit, offset });
      active = (page.items || []).some((r) => ACTIVE.has(r.status));
      return page;
    },
  });
  // Upload status changes and arriving files are live events; a slow poll while a
  // request is under way catches what a dropped event stream missed.
  let timer = null;
  env.scope.onCleanup(() => clearTimeout(timer));
  env.scope.live("log.status_changed", (event) => {
    if (event?.station_id !== env.id || timer) return;
    timer = setTimeout(() => {
      timer = null;
      if (env.scope.alive) table.reload();
    }, 300);
  });
  env.scope.every(5000, () => {
    if (active) table.reload();
  });

  async function request() {
    const body = await formDialog("Request a log", () => [
      field("Log type", select({ name: "log_type" }, [["diagnostics", "Diagnostics"], ["security", "Security"]], "diagnostics"),
        "The station uploads the file to Ampyre's own upload URL."),
      field("Retries (optional)", h("input", { name: "retries", type: "number", min: 0, max: 100, inputmode: "numeric" })),
    ], async (form) => {
      const out = { log_type: form.elements.log_type.value };
      const retries = form.elements.retries.value;
      if (retries !== "") out.retries = Number(retries);
      return out;
    }, { submitLabel: "Request" });
    if (!body) return;
    await runCommand("Log request", () => api.post(`${env.path}/logs`, body), {
      render: (r) => h("div", {},
        h("p", {}, "Status: ", badge(r.status)),
        h("p", {}, "File announced: ", fmt.text(r.filename))),
    });
    await table.reload();
  }

  panel.append(h("h2", { class: "visually-hidden" }, "Logs"),
    can("operator") ? h("p", {}, h("button", { type: "button", class: "primary", onclick: request }, "Request a log")) : null,
    table.el);
}

// ------------------------------------------------------------------ display messages

const PRIORITIES = [["NormalCycle", "Normal cycle"], ["InFront", "In front"], ["AlwaysFront", "Always in front"]];
const FORMATS = [["UTF8", "UTF-8 text"], ["ASCII", "ASCII text"], ["HTML", "HTML"], ["URI", "URI"]];
const STATES = [["", "Any state"], ["Charging", "Charging"], ["Faulted", "Faulted"], ["Idle", "Idle"], ["Unavailable", "Unavailable"]];

export function displayTab(panel, env) {
  if (env.station().ocpp_version === "ocpp1.6") {
    panel.append(h("h2", { class: "visually-hidden" }, "Display messages"),
      h("p", { class: "muted" }, "OCPP 1.6 stations have no display messages (OCPP 2.0.1 and 2.1 only)."));
    return;
  }
  const base = `${env.path}/display-messages`;
  const list = h("div");
  const operator = can("operator");

  async function clear(m) {
    const ok = await confirmDialog("Clear display message", `Remove message ${m.id} from the station's display?`, { confirmLabel: "Clear", danger: true });
    if (!ok) return;
    await runCommand("Clear display message", () => api.del(`${base}/${seg(m.id)}`));
    await load();
  }

  async function load() {
    const messages = await api.get(base);
    const rows = messages.map((m) => h("tr", {},
      h("td", { class: "num" }, String(m.id)),
      h("td", {}, m.priority),
      h("td", {}, fmt.text(m.state)),
      h("td", {}, h("span", { class: "display-content" }, m.content)),
      h("td", {}, [m.format, m.language].filter((x) => x).join(" · ")),
      h("td", {}, m.start_at || m.end_at ? [m.start_at ? fmt.time(m.start_at) : "…", " – ", m.end_at ? fmt.time(m.end_at) : "…"] : "always"),
      h("td", {}, badge(m.source === "station" ? "reported" : "set")),
      operator ? h("td", {}, h("button", { type: "button", "aria-label": `Clear display message ${m.id}`, onclick: () => clear(m) }, "Clear")) : null));
    list.replaceChildren(messages.length
      ? h("table", { class: "data" },
        h("caption", { class: "visually-hidden" }, "Display messages of this station"),
        h("thead", {}, h("tr", {}, ["Id", "Priority", "State", "Message", "Format", "Shown", "Source", operator ? "Clear" : null]
          .filter((x) => x).map((label) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No display messages known. Refresh to ask the station."));
  }

  async function setMessage() {
    const body = await formDialog("Set a display message", () => [
      field("Message id", h("input", { name: "id", type: "number", min: 0, required: true, inputmode: "numeric" }), "A message with this id is replaced."),
      field("Text", h("textarea", { name: "content", rows: 3, maxlength: 512, required: true })),
      field("Priority", select({ name: "priority" }, PRIORITIES, "NormalCycle")),
      field("Show in state", select({ name: "state" }, STATES, "")),
      field("Format", select({ name: "format" }, FORMATS, "UTF8")),
      field("Language (optional)", h("input", { name: "language", maxlength: 8, autocomplete: "off", placeholder: "en" })),
    ], async (form) => {
      const e = form.elements;
      const out = { id: Number(e.id.value), content: e.content.value, priority: e.priority.value, format: e.format.value };
      if (e.state.value) out.state = e.state.value;
      if (e.language.value.trim()) out.language = e.language.value.trim();
      return out;
    }, { submitLabel: "Send" });
    if (!body) return;
    await runCommand("Set display message", () => api.post(base, body));
    await load();
  }

  async function refresh() {
    const started = await runCommand("Refresh display messages", () => api.post(`${base}/refresh`), {
      render: (r) => h("p", {}, "Request ", `#${r.id}`, ": ", badge(r.status)),
    });
    if (!started) return;
    // The parts arrive after the answer: look again a few times.
    for (const wait of [500, 1000, 2000]) {
      setTimeout(() => {
        if (env.scope.alive) load();
      }, wait);
    }
  }

  panel.append(h("h2", { class: "visually-hidden" }, "Display messages"),
    operator ? h("p", { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: setMessage }, "Set a message"), " ",
      h("button", { type: "button", onclick: refresh }, "Refresh from the station")) : null,
    list);
  load();
}
