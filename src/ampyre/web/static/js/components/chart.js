// A small SVG time-series line chart, written here (no library, nothing fetched).
//
// Several series over one time axis, each on an axis of its own unit: "left", "right" or
// "right2" (a second column on the right, e.g. SoC 0–100 %). Series differ by colour AND
// dash pattern, so the chart reads without colour too. The SVG is drawn at the
// container's real pixel width (a ResizeObserver redraws it), so text stays legible on a
// phone instead of shrinking with a fixed viewBox. For screen readers the SVG is
// role="img" with a summary of the latest values, and a <details> holds the numbers as a
// table (built only while it is open).
//
//   const chart = timeChart({
//     label: "Power and energy",
//     series: [{key: "power", label: "Power", unit: "kW", axis: "left", color: "#0b5cad",
//               dash: "", digits: 1, min: 0, max?: 100}],
//     points: [{t: Date|ms|ISO string, power: 7.2, energy: 1.5}, ...],
//   });
//   parent.append(chart.el); chart.append(newPoints); chart.update(allPoints);
//   chart.destroy() when the page goes away.

import { h, replace } from "../dom.js";

const HEIGHT = 280;
const PAD = { top: 26, bottom: 34, axis: 48, axis2: 42 };
const TIME_STEPS = [
  1, 2, 5, 10, 15, 30, // seconds
  60, 120, 300, 600, 900, 1800, // minutes
  3600, 7200, 10800, 21600, 43200, // hours
  86400, 172800, 604800, // days
].map((s) => s * 1000);
const TABLE_MAX = 1000; // rows in the fallback table (the newest)

function toMs(t) {
  return t instanceof Date ? t.getTime() : typeof t === "number" ? t : new Date(t).getTime();
}

/** 1, 2, 2.5 or 5 × 10^n: a step that gives about `count` intervals over `span`. */
export function niceStep(span, count) {
  if (!(span > 0)) return 1;
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  const nice = unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 2.5 ? 2.5 : unit <= 5 ? 5 : 10;
  return nice * power;
}

/** [lo, hi, step] of a value axis: from min (default: data) to a nice top above the data. */
export function valueScale(values, { min, max, ticks = 5 } = {}) {
  let lo = min ?? Math.min(...values);
  let hi = max ?? Math.max(...values);
  if (!Number.isFinite(lo)) lo = 0;
  if (!Number.isFinite(hi) || hi <= lo) hi = lo + 1;
  const step = niceStep(hi - lo, ticks);
  if (max === undefined) hi = Math.ceil(hi / step - 1e-9) * step;
  if (min === undefined) lo = Math.floor(lo / step + 1e-9) * step;
  return [lo, hi, step];
}

/** Time ticks on local-time boundaries (a 15-minute step falls on :00, :15, ...). */
export function timeTicks(t0, t1, maxTicks) {
  const span = Math.max(1, t1 - t0);
  const step = TIME_STEPS.find((s) => span / s <= maxTicks) || TIME_STEPS[TIME_STEPS.length - 1];
  // Align in local time: shift by the zone offset, floor to the step, shift back.
  const offset = new Date(t0).getTimezoneOffset() * 60000;
  let t = Math.ceil((t0 - offset) / step) * step + offset;
  const ticks = [];
  for (; t <= t1 && ticks.length < 100; t += step) ticks.push(t);
  return { ticks, step };
}

function timeLabel(ms, step, withDate) {
  const d = new Date(ms);
  const opts = { hour: "2-digit", minute: "2-digit" };
  if (step < 60000) opts.second = "2-digit";
  if (step >= 86400000) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const time = d.toLocaleTimeString(undefined, opts);
  return withDate ? `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}` : time;
}

/** Decimals that show every multiple of `step` exactly (2.5 -> 1, 0.025 -> 3). */
export function stepDigits(step) {
  for (let digits = 0; digits < 8; digits++) {
    const scaled = step * 10 ** digits;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return digits;
  }
  return 8;
}

function valueLabel(v, step) {
  const digits = stepDigits(step);
  return Number(v).toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmt(series, v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const n = Number(v).toLocaleString(undefined, {
    minimumFractionDigits: series.digits ?? 1, maximumFractionDigits: series.digits ?? 1,
  });
  return `${n} ${series.unit}`;
}

function timeText(ms, withDate = false) {
  const d = new Date(ms);
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return withDate ? `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}` : time;
}

export function timeChart(opts) {
  const series = opts.series;
  let points = [];
  let width = 0;
  const svg = h("svg", {
    class: "tchart-svg", role: "img", width: "100%", height: HEIGHT,
    preserveAspectRatio: "none", focusable: "false",
  });
  const legend = h("ul", { class: "tchart-legend" });
  const tableBox = h("div", { class: "table-scroll" });
  const details = h("details", { class: "tchart-data" },
    h("summary", {}, "Show the values as a table"), tableBox);
  details.addEventListener("toggle", () => drawTable());
  // Pointer readout of the nearest sample (the table below has the same numbers for
  // keyboard and screen-reader users, so this is hidden from them).
  const readout = h("p", { class: "tchart-readout", "aria-hidden": "true" });
  const frameEl = h("div", { class: "tchart-frame" }, svg);
  const el = h("figure", { class: "tchart" }, frameEl, readout, legend, details);
  let geometry = null; // {t0, t1, left, plotW, top, bottom, x, scales} of the last draw
  let hoverT = null;

  function valueOf(p, s) {
    const v = p[s.key];
    return v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v);
  }

  function used(axis) {
    return series.filter((s) => s.axis === axis && points.some((p) => valueOf(p, s) !== null));
  }

  function latest(s) {
    for (let i = points.length - 1; i >= 0; i--) {
      const v = valueOf(points[i], s);
      if (v !== null) return { v, t: points[i].t };
    }
    return null;
  }

  // Do the samples span more than one local day (then times are shown with their date)?
  function manyDays() {
    return points.length > 1
      && new Date(points[0].t).toDateString() !== new Date(points[points.length - 1].t).toDateString();
  }

  function summary() {
    if (points.length === 0) return `${opts.label}: no values yet.`;
    const dated = manyDays();
    const parts = series.map((s) => {
      const l = latest(s);
      return l ? `${s.label} ${fmt(s, l.v)}` : null;
    }).filter(Boolean);
    const first = points[0].t;
    const last = points[points.length - 1].t;
    return `${opts.label}: ${points.length} samples from ${timeText(first, dated)} to `
      + `${timeText(last, dated)}; latest ${parts.join(", ")} at ${timeText(last, dated)}.`;
  }

  function draw() {
    width = Math.round(frameEl.clientWidth || width || 640);
    const label = summary();
    svg.setAttribute("aria-label", label);
    svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const children = [h("title", {}, label)];
    const axes = { left: used("left"), right: used("right"), right2: used("right2") };
    const left = PAD.axis;
    const right = width - (axes.right.length ? PAD.axis : 12) - (axes.right2.length ? PAD.axis2 : 0);
    const top = PAD.top;
    const bottom = HEIGHT - PAD.bottom;
    const plotW = Math.max(10, right - left);
    const plotH = bottom - top;

    if (points.length === 0) {
      children.push(h("rect", { x: left, y: top, width: plotW, height: plotH, class: "tchart-empty" }),
        h("text", { x: left + plotW / 2, y: top + plotH / 2, "text-anchor": "middle" },
          opts.empty || "No meter values yet."));
      geometry = null;
      replace(svg, children);
      drawLegend();
      return;
    }

    let t0 = points[0].t;
    let t1 = points[points.length - 1].t;
    if (t1 - t0 < 60000) {
      // Fewer than a minute of data: show a minute so one point is not a full-width smear.
      t1 = t0 + 60000;
    }
    const x = (t) => left + ((t - t0) / (t1 - t0)) * plotW;

    // Time axis and vertical grid.
    const { ticks, step } = timeTicks(t0, t1, Math.max(2, Math.floor(plotW / 80)));
    const multiDay = new Date(t0).toDateString() !== new Date(t1).toDateString();
    const grid = h("g", { class: "grid" });
    const axisG = h("g", { class: "axis" });
    let lastDay = "";
    for (const t of ticks) {
      const day = new Date(t).toDateString();
      const withDate = multiDay && day !== lastDay && step < 86400000;
      lastDay = day;
      grid.append(h("line", { x1: x(t), x2: x(t), y1: top, y2: bottom }));
      axisG.append(h("text", { x: x(t), y: bottom + 16, "text-anchor": "middle" },
        timeLabel(t, step, withDate)));
    }
    axisG.append(h("line", { x1: left, x2: right, y1: bottom, y2: bottom }));

    // One scale per used axis; the first used axis draws the horizontal grid.
    const scales = {};
    let gridDone = false;
    for (const [axis, list] of Object.entries(axes)) {
      if (list.length === 0) continue;
      const values = [];
      for (const s of list) for (const p of points) {
        const v = valueOf(p, s);
        if (v !== null) values.push(v);
      }
      const [lo, hi, vstep] = valueScale(values, { min: list[0].min, max: list[0].max, ticks: 5 });
      const y = (v) => bottom - ((v - lo) / (hi - lo)) * plotH;
      scales[axis] = y;
      const ax = axis === "left" ? left : axis === "right" ? right : right + PAD.axis;
      const anchor = axis === "left" ? "end" : "start";
      const dx = axis === "left" ? -6 : 6;
      for (let v = lo; v <= hi + vstep / 1000; v += vstep) {
        if (!gridDone) grid.append(h("line", { x1: left, x2: right, y1: y(v), y2: y(v) }));
        axisG.append(h("text", { x: ax + dx, y: y(v) + 4, "text-anchor": anchor }, valueLabel(v, vstep)));
      }
      gridDone = true;
      axisG.append(h("line", { x1: ax, x2: ax, y1: top, y2: bottom }));
      // The unit above its axis.
      axisG.append(h("text", {
        x: ax + (axis === "left" ? -6 : 6), y: top - 12, "text-anchor": anchor, class: "tchart-unit",
      }, list.map((s) => s.unit).filter((u, i, a) => a.indexOf(u) === i).join(" / ")));
    }
    children.push(grid, axisG);

    // The lines: a null value breaks the line; a lone point gets a marker.
    for (const s of series) {
      const y = scales[s.axis];
      if (!y) continue;
      let d = "";
      let run = 0;
      const lone = [];
      points.forEach((p, i) => {
        const v = valueOf(p, s);
        if (v === null) {
          if (run === 1) lone.push(i - 1);
          run = 0;
          return;
        }
        d += `${run === 0 ? "M" : "L"}${x(p.t).toFixed(1)},${y(v).toFixed(1)}`;
        run += 1;
      });
      if (run === 1) lone.push(points.length - 1);
      const g = h("g", { class: "tchart-series", dataset: { series: s.key } },
        h("path", {
          d, fill: "none", stroke: s.color, "stroke-width": s.width || 2,
          "stroke-dasharray": s.dash || null, "stroke-linejoin": "round",
        }),
        lone.map((i) => h("circle", {
          cx: x(points[i].t), cy: y(valueOf(points[i], s)), r: 3, fill: s.color,
        })));
      children.push(g);
    }
    geometry = { t0, t1, left, plotW, top, bottom, x, scales };
    replace(svg, children);
    if (hoverT !== null) hover(hoverT);
    drawLegend();
    if (details.open) drawTable();
  }

  function nearest(t) {
    let lo = 0;
    let hi = points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid].t < t) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && t - points[lo - 1].t < points[lo].t - t) lo -= 1;
    return points[lo];
  }

  function hover(t) {
    svg.querySelector(".tchart-hover")?.remove();
    if (!geometry || points.length === 0) return;
    const p = nearest(t);
    const g = geometry;
    const px = g.x(p.t);
    const marks = h("g", { class: "tchart-hover" },
      h("line", { x1: px, x2: px, y1: g.top, y2: g.bottom }));
    const parts = [];
    for (const s of series) {
      const v = valueOf(p, s);
      if (v === null || !g.scales[s.axis]) continue;
      marks.append(h("circle", { cx: px, cy: g.scales[s.axis](v), r: 4, fill: "#fff", stroke: s.color, "stroke-width": 2 }));
      parts.push(`${s.label} ${fmt(s, v)}`);
    }
    svg.append(marks);
    readout.textContent = `${timeText(p.t, manyDays())} · ${parts.join(" · ")}`;
  }

  svg.addEventListener("pointermove", (event) => {
    if (!geometry) return;
    const rect = svg.getBoundingClientRect();
    const px = ((event.clientX - rect.left) * width) / Math.max(1, rect.width);
    const g = geometry;
    hoverT = g.t0 + ((px - g.left) / g.plotW) * (g.t1 - g.t0);
    hover(hoverT);
  });
  svg.addEventListener("pointerleave", () => {
    hoverT = null;
    svg.querySelector(".tchart-hover")?.remove();
    readout.textContent = "";
  });

  function drawLegend() {
    replace(legend, series.map((s) => {
      const l = latest(s);
      return h("li", {},
        h("svg", { width: 28, height: 10, "aria-hidden": "true", focusable: "false" },
          h("line", {
            x1: 1, x2: 27, y1: 5, y2: 5, stroke: s.color, "stroke-width": 3,
            "stroke-dasharray": s.dash || null,
          })),
        h("span", {}, s.label, " (", s.unit, ", ", axisName(s.axis), "): "),
        l ? h("strong", {}, fmt(s, l.v)) : h("span", { class: "muted" }, "no values"));
    }));
  }

  function axisName(axis) {
    return axis === "left" ? "left axis" : axis === "right" ? "right axis" : "outer right axis";
  }

  function drawTable() {
    if (!details.open) return;
    const rows = points.slice(-TABLE_MAX).reverse();
    replace(tableBox, h("table", { class: "data" },
      h("caption", { class: "visually-hidden" }, opts.label),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Time"),
        series.map((s) => h("th", { scope: "col", class: "num" }, `${s.label} (${s.unit})`)))),
      h("tbody", {}, rows.map((p) => h("tr", {},
        h("td", { "data-label": "Time" }, new Date(p.t).toLocaleString()),
        series.map((s) => {
          const v = valueOf(p, s);
          return h("td", { class: "num", "data-label": s.label }, v === null ? "–" : fmt(s, v));
        }))))),
    points.length > TABLE_MAX
      ? h("p", { class: "muted" }, `The newest ${TABLE_MAX} of ${points.length} samples.`) : null);
  }

  function normalise(list) {
    return (list || []).map((p) => ({ ...p, t: toMs(p.t) })).filter((p) => Number.isFinite(p.t));
  }

  let frame = 0;
  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  }

  const observer = typeof ResizeObserver === "function" ? new ResizeObserver((entries) => {
    const w = Math.round(entries[0]?.contentRect?.width || 0);
    if (w > 0 && Math.abs(w - width) >= 2) schedule();
  }) : null;
  observer?.observe(frameEl);

  points = normalise(opts.points).sort((a, b) => a.t - b.t);
  draw();

  return {
    el,
    /** Replace all points. */
    update(list) {
      points = normalise(list).sort((a, b) => a.t - b.t);
      draw();
    },
    /** Add points (a growing live chart); a point at a time already shown replaces it. */
    append(list) {
      const add = normalise(list);
      if (add.length === 0) return;
      const byTime = new Map(points.map((p, i) => [p.t, i]));
      let unordered = false;
      for (const p of add) {
        const at = byTime.get(p.t);
        if (at !== undefined) {
          points[at] = { ...points[at], ...p };
        } else {
          if (points.length && p.t < points[points.length - 1].t) unordered = true;
          byTime.set(p.t, points.length);
          points.push(p);
        }
      }
      if (unordered) points.sort((a, b) => a.t - b.t);
      draw();
    },
    get points() {
      return points;
    },
    /** The newest time shown (ms), or null. */
    lastTime() {
      return points.length ? points[points.length - 1].t : null;
    },
    destroy() {
      observer?.disconnect();
      if (frame) cancelAnimationFrame(frame);
    },
  };
}
