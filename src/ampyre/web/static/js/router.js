// Hash routing: "#/stations/CP-1?tab=log". A page registers a pattern and a render
// function; render gets a context with the route params, the query, a cleanup hook (for
// live subscriptions and timers) and `live(type, fn)` that is cleaned up automatically.

import { onLive } from "./live.js";

const routes = [];

/** pattern like "/stations/:id"; page = {title, render(ctx), role?} */
export function route(pattern, page) {
  const names = [];
  const regex = new RegExp(
    "^" + pattern.replace(/\/:([a-zA-Z_]+)/g, (_m, name) => {
      names.push(name);
      return "/([^/]+)";
    }) + "/?$",
  );
  routes.push({ pattern, regex, names, page });
}

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, "") || "/";
  const [path, qs = ""] = raw.split("?");
  return { path, query: new URLSearchParams(qs) };
}

export function match(path) {
  for (const r of routes) {
    const m = r.regex.exec(path);
    if (m) {
      const params = {};
      r.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]);
      });
      return { route: r, params };
    }
  }
  return null;
}

/** "#/stations/" + id, with the id escaped. */
export function href(path, query) {
  const qs = query ? new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== null && v !== undefined && v !== ""),
  ).toString() : "";
  return `#${path}${qs ? `?${qs}` : ""}`;
}

export function go(path, query) {
  location.hash = href(path, query);
}

/** Change the query of the current page without a re-render (sort, page, filters). */
export function setQuery(query) {
  const { path } = parseHash();
  history.replaceState(null, "", href(path, query));
}

export class Context {
  constructor(params, query) {
    this.params = params;
    this.query = query;
    this.cleanups = [];
    this.alive = true;
  }

  onCleanup(fn) {
    this.cleanups.push(fn);
  }

  live(type, fn) {
    this.onCleanup(onLive(type, (data, t) => {
      if (this.alive) fn(data, t);
    }));
  }

  every(ms, fn) {
    const timer = setInterval(() => {
      if (this.alive) fn();
    }, ms);
    this.onCleanup(() => clearInterval(timer));
  }

  dispose() {
    this.alive = false;
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch (err) {
        console.error(err);
      }
    }
  }
}
