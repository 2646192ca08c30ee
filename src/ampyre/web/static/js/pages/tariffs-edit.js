// The tariff editor pages (operators): a new tariff (`newTariff`, /roaming/tariffs/new)
// and an existing one (/roaming/tariffs/:id/edit), each beside a live price preview of
// a sample session computed from the tariff as it is being typed. Saves with
// POST /tariffs or PUT /tariffs/{id}; the server's field errors are shown by the form.

import { api, seg } from "../api.js";
import { errorBox, toast } from "../components/notice.js";
import { h } from "../dom.js";
import { card, pageHeader } from "../layout.js";
import { go, href } from "../router.js";
import { subnav } from "./roaming/common.js";
import { pricePreview } from "./roaming/preview.js";
import { tariffForm } from "./roaming/tariff-form.js";

function editor(root, record) {
  const isNew = !record;
  const errors = h("div", { "aria-live": "assertive" });
  let preview = null;
  const form = tariffForm(record, { isNew, onChange: () => preview?.refresh() });
  preview = pricePreview({ tariff: () => form.value() });
  const save = h("button", { type: "submit", class: "primary" }, isNew ? "Create tariff" : "Save tariff");
  const back = isNew ? "/roaming/tariffs" : `/roaming/tariffs/${seg(record.tariff.id)}`;
  const el = h("form", {
    class: "tariff-editor", "aria-label": isNew ? "New tariff" : `Edit tariff ${record.tariff.id}`,
    onsubmit: async (event) => {
      event.preventDefault();
      errors.replaceChildren();
      save.disabled = true;
      try {
        const body = form.value();
        const saved = isNew ? await api.post("/tariffs", body) : await api.put(`/tariffs/${seg(record.tariff.id)}`, body);
        toast(isNew ? "Tariff created." : "Tariff saved.", "ok");
        go(`/roaming/tariffs/${seg(saved?.tariff?.id ?? body.id)}`);
      } catch (err) {
        errors.append(errorBox(err));
      } finally {
        save.disabled = false;
      }
    },
  }, form.el, errors, h("div", { class: "actions" }, save, h("a", { class: "button", href: href(back) }, "Cancel")));
  root.append(
    subnav("/roaming/tariffs"),
    h("p", { class: "crumbs" }, h("a", { href: href(back) }, isNew ? "‹ Tariffs" : `‹ Tariff ${record.tariff.id}`)),
    pageHeader(isNew ? "New tariff" : `Edit tariff ${record.tariff.id}`),
    h("div", { class: "tariff-layout" },
      h("section", { class: "card" }, el),
      card("Price preview", h("p", { class: "muted" }, "A sample session priced with the tariff as it stands in the form (not saved)."), preview.el)));
  preview.now();
}

export const newTariff = {
  path: "/roaming/tariffs/new",
  title: "New tariff",
  role: "operator",

  async render(root) {
    editor(root, null);
  },
};

export default {
  path: "/roaming/tariffs/:id/edit",
  title: (params) => `Edit tariff ${params.id}`,
  role: "operator",

  async render(root, ctx) {
    const record = await api.get(`/tariffs/${seg(ctx.params.id)}`);
    if (!ctx.alive) return;
    editor(root, record);
  },
};
