// One transaction: its summary, a power / energy / SoC chart from its meter values, and
// its event history. While it runs, its events on the stream fetch only the new chart
// points (meter-series?after=<last meter time>) and append them; the summary and the
// state follow without a reload. Operators can ask the station to stop it, and close it
// administratively when its station will never end it.

import { api, ApiError, seg } from "../api.js";
import { timeChart } from "../components/chart.js";
import { confirmDialog, formDialog, resultDialog } from "../components/dialog.js";
import { badge, errorBox, toast } from "../components/notice.js";
import { h, field, replace } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { href } from "../router.js";
import { can } from "../session.js";
import { evseLabel, stateBadges, tokenLink } from "./transactions.js";

// The server lets operators close (POST /transactions/{pk}/close needs the operator role);
// the UI offers what the server allows.
const CLOSE_ROLE = "operator";
const SERIES_CAP = 50000; // chart points fetched at most (10 requests of 5,000: 69 h at 5 s)
const VALUES_CAP = 40; // pages of raw meter values at most (the fallback, 500 each)

const SERIES = [
  { key: "power", label: "Power", unit: "kW", axis: "left", color: "#0b5cad", dash: "", digits: 2, min: 0 },
  { key: "energy", label: "Energy delivered", unit: "kWh", axis: "right", color: "#a34700", dash: "7 4", digits: 3, min: 0 },
  { key: "soc", label: "State of charge", unit: "%", axis: "right2", color: "#146c2e", dash: "2 3", digits: 0, min: 0, max: 100 },
];

/** A meter-series point as the chart plots it: kW, kWh delivered since the start, %. */
function chartPoint(p, startWh) {
  return {
    t: p.timestamp,
    power: p.power_w === null || p.power_w === undefined ? null : p.power_w / 1000,
    energy: p.energy_wh === null || p.energy_wh === undefined ? null
      : Math.max(0, (p.energy_wh - (startWh ?? p.energy_wh)) / 1000),
    soc: p.soc_percent ?? null,
  };
}

/**
 * Raw meter values (GET /meter-values, one row per sampled value) grouped into chart
 * points, for a server without the meter-series endpoint. Same rules as the server's:
 * the energy import register, total (or summed per-phase) import power at the outlet, SoC.
 */
export function pointsFromValues(values) {
  const byTime = new Map();
  for (const v of values) {
    if (v.si_value === null || v.si_value === undefined) continue;
    let p = byTime.get(v.timestamp);
    if (!p) {
      p = { timestamp: v.timestamp, power_w: null, energy_wh: null, soc_percent: null, phases: {} };
      byTime.set(v.timestamp, p);
    }
    const outlet = (v.location || "Outlet") === "Outlet";
    if (v.measurand === "Energy.Active.Import.Register" && outlet && v.si_unit === "Wh" && !v.phase) {
      p.energy_wh = v.si_value;
    } else if (v.measurand === "Power.Active.Import" && outlet && v.si_unit === "W") {
      if (!v.phase) p.power_w = v.si_value;
      else p.phases[v.phase] = v.si_value;
    } else if (v.measurand === "SoC") {
      p.soc_percent = v.si_value;
    }
  }
  return [...byTime.values()].map((p) => {
    const phases = Object.values(p.phases);
    if (p.power_w === null && phases.length) p.power_w = phases.reduce((a, b) => a + b, 0);
    delete p.phases;
    return p;
  }).filter((p) => p.power_w !== null || p.energy_wh !== null || p.soc_percent !== null);
}

export default {
  path: "/transactions/:id",
  title: (params) => `Transaction ${params.id}`,

  async render(root, ctx) {
    const pk = ctx.params.id;
    if (!/^[1-9]\d{0,18}$/.test(pk)) {
      root.append(h("h1", {}, "Transaction"), errorBox(new ApiError(404, { title: "Not found", detail: `There is no transaction with the id ${pk}.` })));
      return;
    }
    const path = `/transactions/${seg(pk)}`;
    let tx = await api.get(path);
    if (!ctx.alive) return;

    const actions = h("div", { class: "actions" });
    const header = h("div", { class: "page-header" }, h("h1", {}, `Transaction #${tx.id}`), actions);
    const summary = h("dl", { class: "props" });
    const chartNote = h("p", { class: "muted tchart-note", "aria-live": "polite" }, "Loading meter values…");
    const chart = timeChart({ label: "Power, energy and state of charge", series: SERIES, empty: "No meter values yet." });
    ctx.onCleanup(() => chart.destroy());
    const history = h("div");
    root.append(header,
      h("div", { class: "grid tx-grid" },
        card("Summary", summary),
        card("Meter values", chart.el, chartNote)),
      card("Event history", history));
    history.classList.add("tx-history");

    function drawSummary() {
      const rows = [
        ["Station", h("a", { href: href(`/stations/${seg(tx.station_id)}`) }, tx.station_id),
          tx.station_connected === false ? h("small", { class: "muted" }, " (not connected)") : null],
        ["EVSE / connector", evseLabel(tx)],
        ["Station's transaction id", h("code", {}, tx.transaction_id)],
        ["Id token", tokenLink(tx.id_token), tx.id_token_type ? h("small", { class: "muted" }, ` (${tx.id_token_type})`) : null,
          tx.auth_status ? [" ", badge(tx.auth_status)] : null],
        ["State", stateBadges(tx), tx.charging_state ? [" ", badge(tx.charging_state)] : null],
        ["Started", fmt.time(tx.started_at), tx.start_seen === false ? h("small", { class: "muted" }, " (start not received)") : null],
        ["Ended", tx.status === "active" ? "still running" : fmt.time(tx.ended_at)],
        ["Duration", fmt.duration(tx.started_at, tx.status === "active" ? null : tx.ended_at)],
        ["Meter start", tx.meter_start_wh === null ? fmt.DASH : `${fmt.number(tx.meter_start_wh)} Wh`],
        ["Meter stop", tx.meter_stop_wh === null ? fmt.DASH : `${fmt.number(tx.meter_stop_wh)} Wh`,
          tx.meter_stop_at ? h("small", { class: "muted" }, ` at ${fmt.time(tx.meter_stop_at)}`) : null],
        ["Energy", h("strong", {}, fmt.kwh(tx.energy_wh, 3))],
        ["Stop reason", fmt.text(tx.stop_reason)],
      ];
      if (tx.cost !== undefined && tx.cost !== null) {
        rows.push(["Cost", typeof tx.cost === "object" ? fmt.json(tx.cost) : String(tx.cost)]);
      }
      if (tx.closed_by) {
        rows.push(["Closed by", tx.closed_by, tx.closed_at ? h("small", { class: "muted" }, ` at ${fmt.time(tx.closed_at)}`) : null],
          ["Close reason", fmt.text(tx.close_reason)]);
      }
      if (tx.remote_start_id !== null && tx.remote_start_id !== undefined) rows.push(["Remote start id", String(tx.remote_start_id)]);
      if (tx.offline) rows.push(["Offline", "some messages were sent while the station was offline"]);
      if (tx.missing_seq_nos?.length) rows.push(["Missing seqNo", tx.missing_seq_nos.join(", ")]);
      rows.push(["Last message", fmt.time(tx.last_message_at)]);
      // Redrawn on every meter value: a link that had the keyboard focus keeps it.
      const focused = summary.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
      replace(summary, rows.map(([label, ...value]) => [h("dt", {}, label), h("dd", {}, value)]));
      if (focused) [...summary.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused)?.focus();
      drawActions();
    }

    function drawActions() {
      const buttons = [];
      if (tx.status === "active" && can("operator")) {
        buttons.push(h("button", { type: "button", class: "primary", onclick: stop }, "Stop"));
      }
      if (tx.status === "active" && can(CLOSE_ROLE)) {
        buttons.push(h("button", { type: "button", class: "danger", onclick: close }, "Close…"));
      }
      // Keep the focus on a button that is drawn again.
      const focused = actions.contains(document.activeElement) ? document.activeElement.textContent : null;
      replace(actions, buttons);
      if (focused) {
        // The button may be gone (the transaction ended): then the focus goes to the page.
        const again = [...actions.children].find((b) => b.textContent === focused);
        if (again) again.focus();
        else root.focus?.({ preventScroll: true });
      }
    }

    async function stop() {
      const ok = await confirmDialog("Stop this transaction?",
        `Ask station ${tx.station_id} to stop transaction #${tx.id}. The transaction ends when the station reports it.`,
        { confirmLabel: "Stop charging", danger: true });
      if (!ok || !ctx.alive) return;
      try {
        const answer = await api.post(`${path}/stop`);
        resultDialog("The station's answer", h("div", {},
          h("p", {}, "Status: ", badge(answer.status)),
          h("pre", {}, fmt.json(answer.response))));
        keepFocusAfterDialog();
        scheduleRefresh();
      } catch (err) {
        resultDialog("Stop failed", errorBox(err));
      }
    }

    // A dialog gives the focus back to the button that opened it; when the transaction
    // ended meanwhile that button is gone, and the focus would fall to <body>.
    function keepFocusAfterDialog() {
      const dialog = document.querySelector("body > dialog[open]");
      dialog?.addEventListener("close", () => setTimeout(() => {
        if (ctx.alive && (document.activeElement === document.body || !document.activeElement)) {
          (actions.querySelector("button") || root).focus({ preventScroll: true });
        }
      }));
    }

    async function close() {
      const reason = h("textarea", { required: true, maxlength: 500, rows: 3, style: { minHeight: "5rem" } });
      const force = h("input", { type: "checkbox", checked: false });
      const result = await formDialog("Close this transaction", () => [
        h("p", {}, `Ends transaction #${tx.id} now with stop reason ClosedByOperator, for a transaction `
          + "its station will never end. The energy known so far becomes final. A stop the station reports later still wins."),
        tx.stale ? h("p", { class: "notice" }, "The station is not connected or has been silent: this transaction is stale.")
          : h("p", { class: "error-box" }, "The station is connected and reporting: the server refuses unless you close it anyway."),
        field("Reason (stored and sent in the webhook)", reason),
        h("div", { class: "field" }, h("label", {}, force, " Close it even if it is not stale")),
      ], async () => {
        const text = reason.value.trim();
        if (!text) throw new ApiError(422, { detail: "A reason is required." });
        return api.post(`${path}/close`, { reason: text, force: force.checked });
      }, { submitLabel: "Close transaction", danger: true });
      if (result && ctx.alive) {
        tx = result;
        drawSummary();
        toast(`Transaction #${tx.id} is closed.`, "ok");
        loadEvents().catch(() => {});
      }
    }

    // ---- meter values -----------------------------------------------------------
    let lastIso = null; // meter time of the newest point fetched (the next `after`)
    let useSeries = true;
    let valuesSeen = 0; // fallback: raw values fetched so far (the next offset)
    let rawValues = [];

    async function fetchSeries() {
      const got = [];
      let more = true;
      let startWh = tx.meter_start_wh;
      while (more && got.length < SERIES_CAP && ctx.alive) {
        const page = await api.get(`${path}/meter-series`, { after: lastIso });
        startWh = page.meter_start_wh ?? startWh;
        got.push(...page.points);
        if (page.points.length) lastIso = page.points[page.points.length - 1].timestamp;
        more = page.more && page.points.length > 0;
      }
      return { points: got, startWh, capped: more };
    }

    async function fetchValues() {
      // Raw values in meter-time order: ask from the count already seen, then regroup.
      let pages = 0;
      let total = Infinity;
      while (valuesSeen < total && pages < VALUES_CAP && ctx.alive) {
        const page = await api.get(`${path}/meter-values`, { limit: 500, offset: valuesSeen });
        total = page.total;
        rawValues.push(...page.items);
        valuesSeen += page.items.length;
        pages += 1;
        if (page.items.length === 0) break;
      }
      return { points: pointsFromValues(rawValues), startWh: tx.meter_start_wh, capped: valuesSeen < total };
    }

    let startWh = tx.meter_start_wh;
    async function loadChart(initial) {
      let got;
      if (useSeries) {
        try {
          got = await fetchSeries();
        } catch (err) {
          // A server without the chart endpoint: group the raw meter values here.
          if (!(err instanceof ApiError) || err.status !== 404 || !initial) throw err;
          useSeries = false;
        }
      }
      if (!useSeries) got = await fetchValues();
      if (!ctx.alive) return;
      startWh = got.startWh ?? startWh;
      const points = got.points.map((p) => chartPoint(p, startWh));
      if (initial || !useSeries) chart.update(points);
      else chart.append(points);
      chartNote.textContent = got.capped
        ? "Only the first part of the meter values is shown (there are too many)."
        : (tx.status === "active" ? "Grows as the station sends meter values." : "");
    }

    // ---- event history ----------------------------------------------------------
    // Events are immutable; the list is rebuilt only when it changed, and a message the
    // user opened stays open. Its JSON is built when opened (a long 2.x transaction has
    // an event per meter value).
    let eventKeys = null;
    let eventsAt = 0;
    function message(e) {
      const details = h("details", { dataset: { key: e.event_key } }, h("summary", {}, "Show"));
      details.addEventListener("toggle", () => {
        if (details.open && details.childElementCount === 1) details.append(h("pre", {}, fmt.json(e.payload)));
      });
      return details;
    }
    async function loadEvents() {
      eventsAt = Date.now();
      const list = await api.get(`${path}/events`);
      if (!ctx.alive) return;
      const items = list.items || [];
      const keys = `${items.map((e) => e.event_key).join(",")}|${(list.missing_seq_nos || []).join(",")}`;
      if (keys === eventKeys) return;
      eventKeys = keys;
      const open = new Set([...history.querySelectorAll("details[open]")].map((d) => d.dataset.key));
      const row = (e) => h("tr", {},
        h("td", { "data-label": "Time" }, fmt.time(e.timestamp)),
        h("td", { "data-label": "Event" }, h("span", {}, badge(e.kind), e.offline ? [" ", badge("offline")] : null)),
        h("td", { "data-label": "seqNo" }, e.seq_no ?? fmt.DASH),
        h("td", { "data-label": "Trigger" }, fmt.text(e.trigger_reason)),
        h("td", { "data-label": "Charging state" }, fmt.text(e.charging_state)),
        h("td", { "data-label": "Received" }, fmt.time(e.received_at)),
        h("td", { "data-label": "Message" }, message(e)));
      const head = ["Time", "Event", "seqNo", "Trigger", "Charging state", "Received", "Message"]
        .map((label) => h("th", { scope: "col" }, label));
      const table = h("table", { class: "data" },
        h("caption", { class: "visually-hidden" }, "Event history, oldest first"),
        h("thead", {}, h("tr", {}, head)),
        h("tbody", {}, items.map(row)));
      replace(history,
        list.missing_seq_nos?.length
          ? h("p", { class: "error-box" }, `Missing seqNo: ${list.missing_seq_nos.join(", ")}`) : null,
        items.length === 0 ? h("p", { class: "muted" }, "No events recorded.")
          : h("div", { class: "table-scroll" }, table));
      for (const d of history.querySelectorAll("details[data-key]")) {
        if (open.has(d.dataset.key)) d.open = true;
      }
    }

    // ---- live -------------------------------------------------------------------
    // Events for this transaction: at most one round of fetches a second; events while
    // one runs cause one more round after it.
    let timer = null;
    let running = false;
    let again = false;
    let ended = false;
    function scheduleRefresh(end = false) {
      ended = ended || end;
      if (running) {
        again = true;
        return;
      }
      if (timer) return;
      timer = setTimeout(refresh, 1000);
    }
    async function refresh() {
      timer = null;
      running = true;
      try {
        const wasActive = tx.status === "active";
        tx = await api.get(path);
        if (!ctx.alive) return;
        drawSummary();
        await loadChart(false);
        // The history follows every 10 s while it runs, at once when it ends.
        if (ended || (wasActive && tx.status !== "active") || Date.now() - eventsAt >= 10000) {
          ended = false;
          await loadEvents();
        }
      } catch {
        // The next event tries again; the page keeps what it shows.
      } finally {
        running = false;
        if (again && ctx.alive) {
          again = false;
          scheduleRefresh();
        }
      }
    }
    ctx.onCleanup(() => clearTimeout(timer));
    const mine = (msg) => String(msg?.data?.id) === String(tx.id);
    ctx.live("transaction.updated", (msg) => { if (mine(msg)) scheduleRefresh(); });
    ctx.live("transaction.ended", (msg) => { if (mine(msg)) scheduleRefresh(true); });
    ctx.live("reset", () => scheduleRefresh(true));
    // The running duration moves even without events.
    ctx.every(30000, () => { if (tx.status === "active") drawSummary(); });

    drawSummary();
    await Promise.all([
      loadChart(true).catch((err) => { if (ctx.alive) chartNote.replaceWith(errorBox(err)); }),
      loadEvents().catch((err) => { if (ctx.alive) history.append(errorBox(err)); }),
    ]);
  },
};
