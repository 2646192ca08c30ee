// A server-paged list that is not a table (timelines, message logs): the caller renders
// the items, this keeps the page, the previous/next buttons and "x–y of N".

import { h, replace } from "../dom.js";
import { errorBox } from "./notice.js";

/**
 * pagedList({load: async ({limit, offset}) -> {items, total, shown?}, render(items) -> node,
 *            pageSize: 25, empty: "Nothing yet.", label: "Status history"})
 * -> {el, reload(), restart(), state}
 */
export function pagedList(opts) {
  const state = { limit: opts.pageSize || 25, offset: 0 };
  let seq = 0;
  const body = h("div", { class: "paged-list-body" });
  const errors = h("div");
  const status = h("span", { class: "pager-status", "aria-live": "polite" });
  const prev = h("button", { type: "button", onclick: () => move(-1) }, "‹ Previous");
  const next = h("button", { type: "button", onclick: () => move(1) }, "Next ›");

  function move(direction) {
    state.offset = Math.max(0, state.offset + direction * state.limit);
    reload();
  }

  async function reload() {
    const mine = ++seq;
    body.setAttribute("aria-busy", "true");
    try {
      const page = await opts.load({ ...state });
      if (mine !== seq) return;
      errors.replaceChildren();
      const items = page.items || [];
      replace(body, items.length ? opts.render(items, page) : h("p", { class: "muted empty" }, opts.empty || "Nothing yet."));
      // `shown`: how many the server sent when the caller filtered some out.
      const count = page.shown ?? items.length;
      const total = page.total ?? count;
      const from = count ? state.offset + 1 : 0;
      status.textContent = `${from}–${state.offset + count} of ${total}`;
      prev.disabled = state.offset === 0;
      next.disabled = state.offset + count >= total;
      pager.hidden = total === 0 && state.offset === 0;
    } catch (err) {
      if (mine === seq) replace(errors, errorBox(err));
    } finally {
      if (mine === seq) body.removeAttribute("aria-busy");
    }
  }

  const pager = h("div", { class: "pager" }, prev, status, next);
  const el = h("div", { class: "paged-list", role: "region", "aria-label": opts.label || null },
    opts.toolbar || null, errors, body, pager);
  reload();
  return {
    el,
    state,
    reload,
    restart() {
      state.offset = 0;
      return reload();
    },
  };
}
