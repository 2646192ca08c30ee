// Sites (load management): each site is a grid connection with a limit, its circuits
// and its member stations, balanced by Ampyre. The list shows each site's limit, size
// and whether it is at its limit now (its status, fetched for the rows shown);
// operators create sites (`newSite`, /sites/new).

import { api, seg } from "../api.js";
import { badge } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { go, href } from "../router.js";
import { can } from "../session.js";
import { gridText } from "./site.js";
import { siteEditor } from "./site/editor.js";

/** A page of sites from GET /sites, whether it answers {items, total} or a list. */
async function loadSites({ limit, offset }) {
  const answer = await api.get("/sites", { limit, offset });
  if (Array.isArray(answer)) {
    return { items: answer.slice(offset, offset + limit), total: answer.length };
  }
  return answer;
}

/** The at-limit state of one site, filled in when its status arrives. */
function stateCell(site) {
  const cell = h("span", { class: "muted" }, "…");
  if (site.enabled === false) {
    replace(cell, badge("disabled"));
    return cell;
  }
  api.get(`/sites/${seg(site.id)}/status`).then((s) => {
    if (!s) {
      replace(cell, "not computed yet");
      return;
    }
    replace(cell, s.at_limit ? badge("At limit", "badge-at-limit") : badge("Below limit", "badge-below-limit"));
    cell.classList.remove("muted");
  }).catch(() => replace(cell, fmt.DASH));
  return cell;
}

export default {
  path: "/sites",
  title: "Sites",
  nav: { label: "Sites", order: 25 },

  async render(root, ctx) {
    const table = pagedTable({
      caption: "Sites",
      pageSize: 25,
      empty: "No sites yet.",
      rowKey: (s) => String(s.id),
      load: loadSites,
      columns: [
        { key: "name", label: "Site", render: (s) => h("a", { href: href(`/sites/${seg(s.id)}`) }, s.name || `Site ${s.id}`) },
        { key: "grid_limit", label: "Grid limit", render: gridText },
        { key: "circuits", label: "Circuits", class: "num", render: (s) => fmt.number((s.circuits || []).length) },
        { key: "members", label: "Members", class: "num", render: (s) => fmt.number((s.members || []).length) },
        { key: "state", label: "Now", render: stateCell },
      ],
    });
    let timer = null;
    const soon = () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (ctx.alive) table.reload();
      }, 1000);
    };
    ctx.onCleanup(() => clearTimeout(timer));
    for (const type of ["site.at_limit", "site.below_limit"]) ctx.live(type, soon);
    const add = can("operator") ? h("a", { class: "button primary", href: href("/sites/new") }, "New site") : null;
    root.append(pageHeader("Sites", add),
      h("p", { class: "muted" }, "A site shares one grid connection among its stations: Ampyre keeps the sum of what they draw under each circuit's limit, phase by phase."),
      table.el);
  },
};

/** The editor for a new site. */
export const newSite = {
  path: "/sites/new",
  title: "New site",
  role: "operator",

  async render(root) {
    const editor = siteEditor(null, {
      onSaved: (saved) => go(`/sites/${seg(saved.id)}`),
      onCancel: () => go("/sites"),
    });
    root.append(h("p", { class: "crumbs" }, h("a", { href: href("/sites") }, "‹ Sites")),
      pageHeader("New site"), h("section", { class: "card" }, editor.el));
  },
};
