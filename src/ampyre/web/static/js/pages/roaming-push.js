// The OCPI push queue of all partners (/roaming/push-queue): updates still to deliver,
// and the failed ones (operators retry or drop them). See roaming/push.js.

import { h } from "../dom.js";
import { pageHeader } from "../layout.js";
import { setQuery } from "../router.js";
import { partnerNames, subnav } from "./roaming/common.js";
import { pushTable } from "./roaming/push.js";

export default {
  path: "/roaming/push-queue",
  title: "OCPI push queue",

  async render(root, ctx) {
    const names = await partnerNames();
    if (!ctx.alive) return;
    const queue = pushTable(ctx, { names, query: ctx.query, onParams: (p) => setQuery(p) });
    root.append(
      subnav("/roaming/push-queue"),
      pageHeader("OCPI push queue"),
      h("p", { class: "muted" },
        "Updates Ampyre pushes to its partners (locations, sessions, tariffs, tokens, CDRs) are delivered in order per object and retried with a growing pause. ",
        "An update whose attempts ran out stays here as failed until it is retried or dropped."),
      queue.el);
  },
};
