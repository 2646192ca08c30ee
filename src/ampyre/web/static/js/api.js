// The REST API client: same-origin fetch with the session cookie, the CSRF header on every
// write, and problem+json errors turned into ApiError (status, title, detail, errors).

const BASE = "/api/v1";
let csrfToken = null;
let onUnauthenticated = () => {};

export function setCsrfToken(token) {
  csrfToken = token;
}

/** Called on a 401 from any request but the session probe (the app shows sign-in). */
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem?.detail || problem?.title || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.title = problem?.title || `HTTP ${status}`;
    this.detail = detail;
    this.errors = problem?.errors || problem?.invalid_params || null;
    this.problem = problem;
  }
}

/** "/stations" + {limit: 50, q: ""} -> "/api/v1/stations?limit=50" (empty values left out). */
export function url(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    query.set(key, String(value));
  }
  const qs = query.toString();
  return `${BASE}${path}${qs ? `?${qs}` : ""}`;
}

async function request(method, path, { params, body, quiet401 = false, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(url(path, params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    if (response.status === 401 && !quiet401) onUnauthenticated();
    throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
  }
  return data;
}

export const api = {
  get: (path, params, opts) => request("GET", path, { ...opts, params }),
  post: (path, body, opts) => request("POST", path, { ...opts, body: body ?? {} }),
  put: (path, body, opts) => request("PUT", path, { ...opts, body: body ?? {} }),
  patch: (path, body, opts) => request("PATCH", path, { ...opts, body: body ?? {} }),
  del: (path, opts) => request("DELETE", path, opts),
  url,
};

/** Path segment escaping for ids that came from stations ("CP 1/2" -> "CP%201%2F2"). */
export const seg = (value) => encodeURIComponent(String(value));
