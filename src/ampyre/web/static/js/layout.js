// The frame around every page: top bar with the navigation (only what the role may open),
// the live-stream indicator, the user and sign-out; the main region pages render into.

import { changePasswordDialog } from "./components/account.js";
import { h, replace } from "./dom.js";
import { onLiveState } from "./live.js";
import { can, session } from "./session.js";

export function frame(pages, { onSignOut }) {
  const navItems = pages
    .filter((p) => p.nav && can(p.role || "viewer"))
    .sort((a, b) => (a.nav.order ?? 100) - (b.nav.order ?? 100));
  const links = navItems.map((p) => h("a", { href: `#${p.nav.href || p.path}`, dataset: { path: p.nav.href || p.path } }, p.nav.label));
  const liveDot = h("span", { class: "live-dot", role: "img", "aria-label": "live updates: connecting" });
  onLiveState((state) => {
    liveDot.className = `live-dot live-${state}`;
    liveDot.setAttribute("aria-label", `live updates: ${state}`);
    liveDot.title = `Live updates: ${state}`;
  });
  const menuButton = h("button", {
    type: "button", class: "menu-toggle", "aria-expanded": "false", "aria-controls": "nav",
    onclick: () => {
      const open = nav.classList.toggle("open");
      menuButton.setAttribute("aria-expanded", String(open));
    },
  }, "Menu");
  const nav = h("nav", { id: "nav", "aria-label": "Main" }, links);
  const main = h("main", { id: "main", tabindex: "-1" });
  const header = h("header", { class: "topbar" },
    h("a", { class: "brand", href: "#/" }, h("img", { src: "/ui/icon.svg", alt: "", width: 24, height: 24 }), "Ampyre"),
    menuButton,
    nav,
    h("div", { class: "who" },
      liveDot,
      h("button", { type: "button", class: "link user", title: "Change my password",
        "aria-label": `${session.user.name} (${session.user.role}): change my password`, onclick: () => changePasswordDialog() },
        session.user.name, " ", h("small", {}, `(${session.user.role})`)),
      h("button", { type: "button", class: "link", onclick: onSignOut }, "Sign out")));
  return {
    el: [header, main],
    main,
    /** Mark the nav entry of the current path. */
    select(path) {
      nav.classList.remove("open");
      menuButton.setAttribute("aria-expanded", "false");
      for (const a of links) {
        const p = a.dataset.path;
        const current = p === "/" ? path === "/" : path === p || path.startsWith(`${p}/`);
        if (current) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
      }
    },
  };
}

/** A page header: title, optional subtitle and action buttons. */
export function pageHeader(title, ...actions) {
  return h("div", { class: "page-header" }, h("h1", {}, title), h("div", { class: "actions" }, actions));
}

/** A card with a heading. */
export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, children);
}

/** Tabs inside a page (keyboard: buttons; the panel is replaced on select). */
export function tabs(items, selected, onSelect) {
  const list = h("div", { class: "tabs", role: "tablist" });
  const panel = h("div", { class: "tab-panel", role: "tabpanel" });
  function show(key) {
    replace(list, items.map((item) => h("button", {
      type: "button", role: "tab", "aria-selected": String(item.key === key),
      onclick: () => show(item.key),
    }, item.label)));
    onSelect?.(key);
    const item = items.find((i) => i.key === key) || items[0];
    replace(panel);
    item.render(panel);
  }
  show(selected || items[0].key);
  return h("div", {}, list, panel);
}
