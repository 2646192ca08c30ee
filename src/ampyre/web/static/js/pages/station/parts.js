// Pieces the station list and the station page share: the connection badge, connector
// badges (status colour, EVSE/connector numbers in the accessible name) and the choices
// of EVSEs and connectors that command dialogs offer.

import { badge } from "../../components/notice.js";
import { h } from "../../dom.js";
import * as fmt from "../../format.js";

/** "online" / "offline" as a badge; the title says since when it was last seen. */
export function connectionBadge(station) {
  const el = badge(station.connected ? "online" : "offline");
  if (station.last_seen) el.title = `Last seen ${fmt.time(station.last_seen)}`;
  return el;
}

/** Where a connector is, in words: "EVSE 1 connector 1", "station (EVSE 0)". */
export function place(evseId, connectorId) {
  if (evseId === 0) return "whole station";
  return `EVSE ${evseId} connector ${connectorId}`;
}

/** One connector's status badge, labelled with its place; error details in the title. */
export function connectorBadge(evseId, connector) {
  const el = badge(connector.status);
  const where = place(evseId, connector.connector_id);
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", `${where}: ${connector.status}`);
  const details = [where, connector.status];
  if (connector.error_code && connector.error_code !== "NoError") details.push(connector.error_code);
  if (connector.info) details.push(connector.info);
  el.title = details.join(" · ");
  return el;
}

/** All connectors of a station (EVSE 0, the station itself, left out) as badges. */
export function connectorBadges(station) {
  const items = [];
  for (const evse of station.evses || []) {
    if (evse.evse_id === 0) continue;
    for (const c of evse.connectors) {
      const el = connectorBadge(evse.evse_id, c);
      // The number inside the badge for sighted users; the label says it in full.
      el.textContent = `${evse.evse_id}${evse.connectors.length > 1 ? `/${c.connector_id}` : ""} ${c.status}`;
      items.push(el);
    }
  }
  return items.length ? h("span", { class: "connectors" }, items) : fmt.DASH;
}

/** [evse_id, connector_id] of every real connector (EVSE 0 left out). */
export function connectorsOf(station) {
  const out = [];
  for (const evse of station.evses || []) {
    if (evse.evse_id === 0) continue;
    for (const c of evse.connectors) out.push([evse.evse_id, c.connector_id]);
  }
  return out;
}

/** EVSE ids (1..n) the station has reported. */
export function evsesOf(station) {
  return (station.evses || []).map((e) => e.evse_id).filter((id) => id > 0);
}

export const REGISTRATION = ["Accepted", "Pending", "Rejected"];

/** Bring every "… ago" text under `root` (<time class="ago" datetime>) up to date. */
export function tickAgo(root) {
  for (const el of root.querySelectorAll("time.ago[datetime]")) el.textContent = fmt.ago(el.getAttribute("datetime"));
}
