// Formatting for display. Times are shown in the browser's time zone, with the ISO value
// in a tooltip; energy in kWh; unknown values as an en dash.

export const DASH = "–";

export function time(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/** "3 min ago" style, for last-seen columns. */
export function ago(iso, now = Date.now()) {
  if (!iso) return DASH;
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (Number.isNaN(seconds)) return DASH;
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function kwh(wh, digits = 2) {
  if (wh === null || wh === undefined) return DASH;
  return `${(Number(wh) / 1000).toFixed(digits)} kWh`;
}

export function kw(w, digits = 1) {
  if (w === null || w === undefined) return DASH;
  return `${(Number(w) / 1000).toFixed(digits)} kW`;
}

export function number(n, digits = 0) {
  if (n === null || n === undefined) return DASH;
  return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function duration(startIso, endIso) {
  if (!startIso) return DASH;
  const ms = (endIso ? new Date(endIso) : new Date()) - new Date(startIso);
  const minutes = Math.max(0, Math.round(ms / 60000));
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function text(value) {
  return value === null || value === undefined || value === "" ? DASH : String(value);
}

/** Pretty JSON for <pre> blocks (always as text). */
export function json(value) {
  return JSON.stringify(value, null, 2);
}
