// The OCPI push queue (GET /ocpi/push-queue): what Ampyre still has to deliver to its
// partners (location, session, tariff, token updates, CDRs), in order per object, with
// retries; rows whose attempts ran out stay as "failed" until an operator retries or
// drops them. Used by the push queue page (all partners) and a partner's page.

import { api, seg } from "../../api.js";
import { confirmDialog } from "../../components/dialog.js";
import { attempt } from "../../components/notice.js";
import { pagedTable } from "../../components/table.js";
import { field, h, select } from "../../dom.js";
import * as fmt from "../../format.js";
import { can } from "../../session.js";
import { ago, reloadKeepingFocus, throttled } from "../security.js";
import { jsonDetails, listLoader, ocpiBadge, partnerLink, urlText } from "./common.js";

const POLL_MS = 10000;

function lastTry(row) {
  const parts = [];
  if (row.last_http_status !== null && row.last_http_status !== undefined) parts.push(`HTTP ${row.last_http_status}`);
  if (row.last_status_code !== null && row.last_status_code !== undefined) parts.push(`OCPI ${row.last_status_code}`);
  if (row.last_error) parts.push(String(row.last_error));
  return parts.length ? parts.join(" · ") : fmt.DASH;
}

/**
 * The queue as a server-paged table. `partnerId`: only this partner's rows (else a
 * partner filter and column); `names`: Map id -> partner name; `query`: initial filters
 * from the address bar; `onParams`: called with the filters (to keep them there).
 */
export function pushTable(scope, { partnerId = null, names = new Map(), query = null, onParams = null } = {}) {
  const status = select({ name: "status" }, [["", "Pending and failed"], ["pending", "Pending"], ["failed", "Failed"]],
    query?.get("status") || "");
  const partner = partnerId === null
    ? select({ name: "partner_id" }, [["", "All partners"], ...[...names].map(([id, name]) => [id, name])], query?.get("partner_id") || "")
    : null;
  const notice = h("div");
  const loader = listLoader("/ocpi/push-queue", notice, "The OCPI push queue", () => ({
    partner_id: partnerId ?? (partner.value || null),
    status: status.value || null,
  }), onParams);
  const operator = can("operator");
  const table = pagedTable({
    caption: partnerId === null ? "OCPI push queue" : "Push queue of this partner",
    pageSize: 25,
    empty: "Nothing waiting: every update was delivered.",
    rowKey: (r) => String(r.id),
    filters: [partner ? field("Partner", partner) : null, field("Show", status)],
    load: loader.load,
    columns: [
      { key: "created_at", label: "Queued", render: (r) => ago(r.created_at) },
      partnerId === null ? { key: "partner", label: "Partner", render: (r) => partnerLink(r.partner_id, names) } : null,
      { key: "what", label: "Update", render: (r) => h("span", {}, h("strong", {}, fmt.text(r.method)), " ", h("code", { class: "wrap" }, fmt.text(r.object_key))) },
      { key: "url", label: "To", render: (r) => urlText(r.url) },
      { key: "status", label: "State", render: (r) => ocpiBadge(r.status) },
      { key: "attempts", label: "Attempts", class: "num", render: (r) => fmt.number(r.attempts) },
      { key: "next", label: "Next try", render: (r) => (r.status === "failed" ? "given up" : ago(r.next_attempt_at)) },
      { key: "last", label: "Last answer", render: lastTry },
      { key: "body", label: "Body", render: (r) => (r.body === null || r.body === undefined ? fmt.DASH : jsonDetails("Show", r.body, `push-${r.id}`)) },
      operator ? {
        key: "actions", label: "Actions",
        render: (r) => h("div", { class: "row-actions" },
          r.status === "failed" ? h("button", {
            type: "button", class: "small", "aria-label": `Retry update ${r.id}`,
            onclick: async () => {
              if (await attempt(() => api.post(`/ocpi/push-queue/${seg(r.id)}/retry`), "Queued again.") !== undefined) table.reload();
            },
          }, "Retry") : null,
          h("button", {
            type: "button", class: "small danger", "aria-label": `Drop update ${r.id}`,
            onclick: async () => {
              const ok = await confirmDialog(`Drop update ${r.id}?`,
                "The partner will not get this update; a later change of the same object is sent as usual.",
                { confirmLabel: "Drop", danger: true });
              if (ok && await attempt(() => api.del(`/ocpi/push-queue/${seg(r.id)}`), "Dropped.") !== undefined) table.reload();
            },
          }, "Drop")),
      } : null,
    ].filter(Boolean),
  });
  status.addEventListener("change", () => table.restart());
  partner?.addEventListener("change", () => table.restart());
  const refresh = throttled(scope, () => {
    if (!loader.state.missing) reloadKeepingFocus(table);
  });
  scope.every(POLL_MS, refresh);
  scope.live("reset", refresh);
  return { el: h("div", {}, notice, table.el), reload: () => table.reload() };
}
