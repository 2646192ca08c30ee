// A server-paged table: search box, sortable headers, previous/next, "x–y of N".
// The server does the searching, sorting and paging (20,000 stations never reach the
// browser at once).

import { h, replace, debounce } from "../dom.js";
import { errorBox } from "./notice.js";

/**
 * pagedTable({
 *   columns: [{key, label, sortable?, render?(row) -> node|string, class?}],
 *   load: async ({limit, offset, sort, q}) -> {items, total},
 *   pageSize: 25, search: "Search stations" (placeholder; omit for no search box),
 *   sort: "id" (initial; "-x" descending), q: "" (initial), filters: node (extra controls),
 *   empty: "No stations yet.", caption: "Stations", rowKey?(row), onState?({sort,q,offset})
 * }) -> {el, reload(), setFilters()}
 */
export function pagedTable(opts) {
  const state = {
    limit: opts.pageSize || 25,
    offset: opts.offset || 0,
    sort: opts.sort || null,
    q: opts.q || "",
  };
  let seq = 0;
  const body = h("tbody");
  const status = h("span", { class: "pager-status", "aria-live": "polite" });
  const prev = h("button", { type: "button", onclick: () => move(-1) }, "‹ Previous");
  const next = h("button", { type: "button", onclick: () => move(1) }, "Next ›");
  const errors = h("div");
  const headRow = h("tr");
  const table = h("table", { class: "data" },
    opts.caption ? h("caption", { class: "visually-hidden" }, opts.caption) : null,
    h("thead", {}, headRow), body);

  function header() {
    replace(headRow, opts.columns.map((col) => {
      if (!col.sortable) return h("th", { scope: "col", class: col.class }, col.label);
      const key = col.sortKey || col.key;
      const current = state.sort === key ? "ascending" : state.sort === `-${key}` ? "descending" : "none";
      const arrow = current === "ascending" ? " ▲" : current === "descending" ? " ▼" : "";
      return h("th", { scope: "col", class: col.class, "aria-sort": current },
        h("button", {
          type: "button", class: "sort",
          onclick: () => {
            state.sort = current === "ascending" ? `-${key}` : key;
            state.offset = 0;
            reload();
          },
        }, col.label, arrow));
    }));
  }

  function move(direction) {
    state.offset = Math.max(0, state.offset + direction * state.limit);
    reload();
  }

  async function reload() {
    const mine = ++seq;
    header();
    opts.onState?.({ sort: state.sort, q: state.q, offset: state.offset });
    table.setAttribute("aria-busy", "true");
    try {
      const page = await opts.load({ ...state });
      if (mine !== seq) return; // a newer request won
      errors.replaceChildren();
      const items = page.items || [];
      if (items.length === 0) {
        replace(body, h("tr", {}, h("td", { colspan: opts.columns.length, class: "empty" },
          state.q ? "Nothing matches." : (opts.empty || "Nothing yet."))));
      } else {
        replace(body, items.map((row) => h("tr", { dataset: opts.rowKey ? { key: opts.rowKey(row) } : {} },
          opts.columns.map((col) => {
            const value = col.render ? col.render(row) : row[col.key];
            return h("td", { class: col.class, "data-label": col.label }, value ?? "–");
          }))));
      }
      const total = page.total ?? items.length;
      const from = items.length ? state.offset + 1 : 0;
      status.textContent = `${from}–${state.offset + items.length} of ${total}`;
      prev.disabled = state.offset === 0;
      next.disabled = state.offset + items.length >= total;
    } catch (err) {
      if (mine === seq) replace(errors, errorBox(err));
    } finally {
      if (mine === seq) table.removeAttribute("aria-busy");
    }
  }

  const search = opts.search ? h("input", {
    type: "search", placeholder: opts.search, "aria-label": opts.search, value: state.q,
    oninput: debounce((e) => {
      state.q = e.target.value.trim();
      state.offset = 0;
      reload();
    }, 300),
  }) : null;

  const el = h("div", { class: "paged-table" },
    (search || opts.filters) ? h("div", { class: "toolbar" }, search, opts.filters) : null,
    errors,
    h("div", { class: "table-scroll" }, table),
    h("div", { class: "pager" }, prev, status, next));

  reload();
  return {
    el,
    reload,
    state,
    /** Back to the first page (after a filter changed) and load. */
    restart() {
      state.offset = 0;
      return reload();
    },
  };
}
