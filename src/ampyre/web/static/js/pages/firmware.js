// Firmware: the files Ampyre hosts for stations (upload, sha256, download link) and fleet
// rollouts (start one for a set of stations in batches; follow each live on its page).

import { api, seg } from "../api.js";
import { confirmDialog } from "../components/dialog.js";
import { badge, errorBox, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, replace, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { go, href } from "../router.js";
import { can } from "../session.js";

function size(bytes) {
  if (bytes >= 1048576) return `${fmt.number(bytes / 1048576, 1)} MiB`;
  if (bytes >= 1024) return `${fmt.number(bytes / 1024, 1)} KiB`;
  return `${fmt.number(bytes)} B`;
}

const STATES = ["pending", "sending", "in_progress", "installed", "failed", "rejected", "timed_out", "cancelled"];

export function countsText(counts) {
  const order = (k) => (STATES.indexOf(k) + 1 || 99);
  const parts = Object.entries(counts || {}).filter(([, n]) => n > 0)
    .sort(([a], [b]) => order(a) - order(b))
    .map(([k, n]) => `${n} ${k.replace("_", " ")}`);
  return parts.join(", ") || fmt.DASH;
}

// The upload goes as the raw request body (not JSON): fetch with the session's CSRF token.
async function uploadFile(file, params) {
  const session = await api.get("/session");
  const response = await fetch(api.url("/firmware", params), {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": session.csrf_token || "" },
    body: file,
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw Object.assign(new Error(data?.detail || `HTTP ${response.status}`), { detail: data?.detail, errors: data?.errors, status: response.status });
  return data;
}

function uploadForm(onDone) {
  const out = h("div", { "aria-live": "polite" });
  const text = (name, label, hint, props = {}) => field(label, h("input", { name, autocomplete: "off", spellcheck: "false", ...props }), hint);
  const form = h("form", { class: "stack", "aria-label": "Upload firmware" },
    field("File", h("input", { name: "file", type: "file", required: true })),
    h("div", { class: "grid" },
      text("version", "Version", "the firmware version stations report after installing it", { required: true, maxlength: 50 }),
      text("vendor", "Vendor", null, { maxlength: 50 }),
      text("model", "Model", null, { maxlength: 50 })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Upload")),
    out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const file = f.file.files[0];
    if (!file) return;
    replace(out, h("p", { class: "muted" }, "Uploading…"));
    try {
      const stored = await uploadFile(file, {
        version: f.version.value.trim(), filename: file.name,
        vendor: f.vendor.value.trim(), model: f.model.value.trim(),
      });
      replace(out, h("p", { role: "status" }, `Stored ${stored.filename} (${stored.version}), sha256 ${stored.sha256.slice(0, 16)}…`));
      form.reset();
      onDone();
    } catch (err) {
      replace(out, errorBox(err));
    }
  });
  return form;
}

function rolloutForm(files) {
  const out = h("div", { "aria-live": "polite" });
  const num = (name, label, value, hint, props = {}) => field(label, h("input", { name, type: "number", value, inputmode: "numeric", ...props }), hint);
  const text = (name, label, props = {}) => field(label, h("input", { name, autocomplete: "off", spellcheck: "false", maxlength: 255, ...props }));
  const form = h("form", { class: "stack", "aria-label": "New rollout" },
    field("Firmware file", select({ name: "file_id", required: true },
      files.map((f) => [f.id, `${f.version} (${f.filename})`]))),
    field("Name", h("input", { name: "name", maxlength: 100, autocomplete: "off" })),
    field("Stations", h("textarea", { name: "stations", rows: 3, spellcheck: "false", autocomplete: "off" }),
      "Station ids, one per line or comma-separated; and/or choose by vendor / model / running version."),
    h("div", { class: "grid" }, text("vendor", "Vendor"), text("model", "Model"), text("firmware_version", "Running version")),
    h("div", { class: "grid" },
      num("batch_size", "Batch size", 10, "stations updated at once", { min: 1, max: 10000, required: true }),
      num("pause_seconds", "Pause (s)", 0, "after each batch", { min: 0, step: "any", required: true }),
      num("abort_threshold", "Abort after failures", 1, "0: never abort", { min: 0, required: true })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Start rollout")),
    out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const v = (name) => f[name].value.trim();
    const ids = v("stations").split(/[\s,]+/).filter(Boolean);
    const targets = {};
    if (ids.length) targets.station_ids = ids;
    for (const name of ["vendor", "model", "firmware_version"]) if (v(name)) targets[name] = v(name);
    const body = {
      file_id: Number(f.file_id.value), name: v("name"), targets,
      batch_size: Number(f.batch_size.value), pause_seconds: Number(f.pause_seconds.value),
      abort_threshold: Number(f.abort_threshold.value),
    };
    const label = f.file_id.selectedOptions[0]?.textContent || "the firmware";
    if (!await confirmDialog("Start the rollout?", `Install ${label} on ${ids.length ? `${ids.length} station(s)` : "every matching station"}.`, { confirmLabel: "Start" })) return;
    try {
      const rollout = await api.post("/rollouts", body);
      toast(`Rollout ${rollout.id} started for ${rollout.stations.length} station(s)`, "info");
      go(`/firmware/rollouts/${rollout.id}`);
    } catch (err) {
      replace(out, errorBox(err));
    }
  });
  return form;
}

export default {
  path: "/firmware",
  title: "Firmware",
  nav: { label: "Firmware", order: 37 },

  async render(root, ctx) {
    const files = pagedTable({
      caption: "Firmware files",
      pageSize: 20,
      empty: "No firmware uploaded yet.",
      load: ({ limit, offset }) => api.get("/firmware", { limit, offset }),
      columns: [
        { key: "version", label: "Version" },
        { key: "filename", label: "File", render: (f) => h("a", { href: f.download_url, download: f.filename }, f.filename) },
        { key: "vendor", label: "Vendor / model", render: (f) => [f.vendor, f.model].filter(Boolean).join(" / ") || fmt.DASH },
        { key: "size", label: "Size", class: "num", render: (f) => size(f.size) },
        { key: "sha256", label: "SHA-256", render: (f) => h("code", { title: f.sha256 }, `${f.sha256.slice(0, 12)}…`) },
        { key: "created_at", label: "Uploaded", render: (f) => h("time", { datetime: f.created_at, title: fmt.time(f.created_at) }, fmt.ago(f.created_at)) },
      ],
    });
    const rollouts = pagedTable({
      caption: "Rollouts",
      pageSize: 20,
      empty: "No rollout yet.",
      rowKey: (r) => r.id,
      load: ({ limit, offset }) => api.get("/rollouts", { limit, offset }),
      columns: [
        { key: "id", label: "Rollout", render: (r) => h("a", { href: href(`/firmware/rollouts/${seg(r.id)}`) }, r.name || `#${r.id}`) },
        { key: "state", label: "State", render: (r) => badge(r.state) },
        { key: "counts", label: "Stations", render: (r) => countsText(r.counts) },
        { key: "batch_size", label: "Batch", class: "num" },
        { key: "created_at", label: "Started", render: (r) => h("time", { datetime: r.created_at, title: fmt.time(r.created_at) }, fmt.ago(r.created_at)) },
      ],
    });
    root.append(pageHeader("Firmware"));
    const newRollout = h("div");
    if (can("admin")) root.append(h("section", { class: "card" }, h("h2", {}, "Upload firmware"), uploadForm(() => { files.reload(); showRolloutForm(); })));
    root.append(h("section", { class: "card" }, h("h2", {}, "Files"), files.el));
    if (can("operator")) root.append(h("section", { class: "card" }, h("h2", {}, "Start a rollout"), newRollout));
    root.append(h("section", { class: "card" }, h("h2", {}, "Rollouts"), rollouts.el));

    async function showRolloutForm() {
      if (!can("operator")) return;
      try {
        const page = await api.get("/firmware", { limit: 100 });
        replace(newRollout, page.items.length ? rolloutForm(page.items) : h("p", { class: "muted" }, "Upload a firmware file first."));
      } catch (err) {
        replace(newRollout, errorBox(err));
      }
    }
    await showRolloutForm();
    for (const type of ["rollout.progress", "rollout.finished", "reset"]) ctx.live(type, () => rollouts.reload());
  },
};
