// Customer data (GDPR): ask 2.0.1/2.1 stations what they hold about a customer (by id
// token or customer identifier) and/or to clear it; follow the requests; download an
// assembled report. Reports are personal data: operators and admins only.

import { api, seg } from "../api.js";
import { runCommand } from "../components/command.js";
import { checkbox } from "../components/forms.js";
import { badge } from "../components/notice.js";
import { field, h, replace, select } from "../dom.js";
import * as fmt from "../format.js";
import { pageHeader } from "../layout.js";
import { href } from "../router.js";
import { can } from "../session.js";

function who(params) {
  if (params.id_token) return `id token ${params.id_token}`;
  if (params.customer_identifier) return `customer ${params.customer_identifier}`;
  if (params.certificate) return `certificate ${params.certificate.serialNumber || ""}`;
  return fmt.DASH;
}

function asked(params) {
  return [params.report ? "report" : null, params.clear ? "clear" : null].filter((x) => x).join(" + ");
}

export default {
  path: "/customer-data",
  title: "Customer data",
  nav: { label: "Customer data", order: 38 },

  async render(root, ctx) {
    const list = h("div");
    const operator = can("operator");

    async function load() {
      const requests = await api.get("/customer-information", { limit: 100 });
      if (!ctx.alive) return;
      replace(list, requests.length
        ? h("table", { class: "data" },
          h("caption", { class: "visually-hidden" }, "Customer information requests, newest first"),
          h("thead", {}, h("tr", {}, ["Request", "Station", "Customer", "Asked", "Status", "Parts", "Requested", operator ? "Report" : null]
            .filter((x) => x).map((label) => h("th", { scope: "col" }, label)))),
          h("tbody", {}, requests.map((r) => h("tr", {},
            h("td", { class: "num" }, `#${r.id}`),
            h("td", {}, h("a", { href: href(`/stations/${seg(r.station_id)}`) }, r.station_id)),
            h("td", {}, who(r.params)),
            h("td", {}, asked(r.params)),
            h("td", {}, badge(r.status), r.detail ? h("small", { class: "muted" }, ` ${r.detail}`) : null),
            h("td", { class: "num" }, String(r.parts)),
            h("td", {}, h("time", { datetime: r.requested_at, title: fmt.time(r.requested_at) }, fmt.ago(r.requested_at))),
            operator ? h("td", {}, r.params.report && r.parts
              ? h("a", { href: api.url(`/customer-information/${seg(r.id)}/report`), download: "", "aria-label": `Download the report of request ${r.id}` }, "Download")
              : fmt.DASH) : null))))
        : h("p", { class: "muted" }, "No customer information requested yet."));
    }

    const form = operator ? (() => {
      const stations = h("input", { name: "stations", required: true, autocomplete: "off", spellcheck: "false" });
      const kind = select({ name: "kind" }, [["id_token", "Id token"], ["customer_identifier", "Customer identifier"]], "id_token");
      const value = h("input", { name: "value", required: true, autocomplete: "off", spellcheck: "false", maxlength: 64 });
      const report = checkbox("Report what the station holds", true);
      const clear = checkbox("Clear it on the station", false);
      const el = h("form", {
        class: "inline-form",
        onsubmit: async (e) => {
          e.preventDefault();
          const body = {
            station_ids: stations.value.split(",").map((s) => s.trim()).filter((s) => s),
            report: report.input.checked,
            clear: clear.input.checked,
            [kind.value]: value.value.trim(),
          };
          await runCommand("Customer information", () => api.post("/customer-information", body), {
            render: (results) => h("ul", {}, results.map((r) => h("li", {}, r.request.station_id, ": ", badge(r.request.status)))),
          });
          await load();
        },
      },
      field("Stations (comma-separated)", stations),
      field("Customer by", kind),
      field("Customer", value),
      report.el, clear.el,
      h("button", { type: "submit", class: "primary" }, "Ask the stations"));
      return el;
    })() : null;

    root.append(pageHeader("Customer data"),
      h("p", { class: "muted" }, "GDPR requests to OCPP 2.0.1 / 2.1 stations. A report arrives in parts; it is incomplete if they stop coming."),
      form, list);
    await load();
    ctx.every(3000, load);
  },
};
