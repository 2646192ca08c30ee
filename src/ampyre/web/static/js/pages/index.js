// The dashboard's pages, one module each. Adding a page = writing its module and adding
// one line here. A page module's default export:
//   {
//     path: "/stations/:id",              // hash route
//     title: "Station",                   // or title(params)
//     nav: {label: "Stations", order: 20} // optional: an entry in the top navigation
//     role: "viewer",                     // least role that may open it (default viewer)
//     async render(root, ctx) { ... }     // fill `root`; ctx: params, query, live(), every(), onCleanup()
//   }

import overview from "./overview.js";
import station from "./station.js";
import stations from "./stations.js";
import idTokens from "./id-tokens.js";
import localLists from "./local-lists.js";
import reservations from "./reservations.js";
import webhooks from "./webhooks.js";
import webhook from "./webhook.js";
import apiTokens from "./api-tokens.js";
import audit from "./audit.js";
import users from "./users.js";
import transaction from "./transaction.js";
import transactions from "./transactions.js";
import nodes from "./nodes.js";
import configuration from "./configuration.js";
import firmware from "./firmware.js";
import firmwareRollout from "./firmware-rollout.js";
import alerts from "./alerts.js";
import logs from "./logs.js";
import customerData from "./customer-data.js";
import sites, { newSite } from "./sites.js";
import site, { siteEdit } from "./site.js";
import securityEvents from "./security.js";
import securityCertificates from "./security-certificates.js";
import pki from "./pki.js";
import contractCertificates from "./contract-certificates.js";
import roaming, { newPartner } from "./roaming.js";
import roamingPartner from "./roaming-partner.js";
import roamingPush from "./roaming-push.js";
import roamingSessions, { roamingSession } from "./roaming-sessions.js";
import roamingTokens, { receivedToken } from "./roaming-tokens.js";
import roamingCommands, { roamingCommand } from "./roaming-commands.js";
import locations, { newLocation } from "./locations.js";
import locationDetail, { locationEdit } from "./locations-detail.js";
import tariffs, { tariffPage } from "./tariffs.js";
import tariffEdit, { newTariff } from "./tariffs-edit.js";
import cdrs from "./cdrs.js";
import cdrDetail, { receivedCdr } from "./cdrs-detail.js";

export const pages = [
  overview,
  stations,
  station,
  transactions,
  transaction,
  idTokens,
  localLists,
  reservations,
  webhooks,
  webhook,
  apiTokens,
  audit,
  users,
  nodes,
  configuration,
  firmware,
  firmwareRollout,
  alerts,
  logs,
  customerData,
  sites,
  newSite,
  site,
  siteEdit,
    securityEvents,
  securityCertificates,
  pki,
  contractCertificates,
  // (a fixed path before the pattern that would also match it: "/new" before "/:id")
  roaming,
  newPartner,
  roamingPartner,
  roamingPush,
  locations,
  newLocation,
  locationDetail,
  locationEdit,
  tariffs,
  newTariff,
  tariffPage,
  tariffEdit,
  roamingSessions,
  roamingSession,
  roamingTokens,
  receivedToken,
  roamingCommands,
  roamingCommand,
  cdrs,
  receivedCdr,
  cdrDetail,
];
