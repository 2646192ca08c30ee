// Roaming (issue 20, OCPI 2.2.1): the partners this Ampyre roams with (this page,
// /roaming) with their handshake state, and the form for a new partner
// (`newPartner`, /roaming/partners/new, admins). Our own OCPI identity (country code,
// party id, roles, versions URL) is shown here too: a partner needs it to register
// with us. The other roaming pages are reached through the sub-navigation.

import { api, seg } from "../api.js";
import { checkbox, secretBox } from "../components/forms.js";
import { errorBox, toast } from "../components/notice.js";
import { pagedTable } from "../components/table.js";
import { field, h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { card, pageHeader } from "../layout.js";
import { go, href } from "../router.js";
import { can } from "../session.js";
import { listLoader, partnerState, rolesText, subnav, urlText, when } from "./roaming/common.js";
import { failure, reloadKeepingFocus, throttled } from "./security.js";

const POLL_MS = 15000;

/** Our party as partners see it (GET /ocpi/identity). */
async function identityView(box) {
  try {
    const me = await api.get("/ocpi/identity");
    replace(box, h("dl", { class: "props" },
      h("dt", {}, "Party"), h("dd", {}, `${fmt.text(me.country_code)}/${fmt.text(me.party_id)}`),
      h("dt", {}, "Business name"), h("dd", {}, fmt.text(me.business_name)),
      h("dt", {}, "Roles"), h("dd", {}, (me.roles || []).join(", ") || fmt.DASH),
      h("dt", {}, "Versions URL"), h("dd", {}, urlText(me.versions_url))));
  } catch (err) {
    replace(box, failure(err, "Roaming (OCPI)"));
  }
}

function pushCell(p) {
  const pending = Number(p.pending_pushes || 0);
  const failed = Number(p.failed_pushes || 0);
  if (!pending && !failed) return h("span", { class: "muted" }, "none waiting");
  return h("a", { href: href("/roaming/push-queue", { partner_id: p.id }) },
    [pending ? `${pending} pending` : null, failed ? `${failed} failed` : null].filter(Boolean).join(", "));
}

export default {
  path: "/roaming",
  title: "Roaming partners",
  nav: { label: "Roaming", order: 55 },

  async render(root, ctx) {
    const notice = h("div");
    const loader = listLoader("/ocpi/partners", notice, "Roaming (OCPI)");
    const table = pagedTable({
      caption: "Roaming partners",
      pageSize: 25,
      empty: "No roaming partners yet.",
      rowKey: (p) => String(p.id),
      load: loader.load,
      columns: [
        { key: "name", label: "Partner", render: (p) => h("a", { href: href(`/roaming/partners/${seg(p.id)}`) }, fmt.text(p.name)) },
        { key: "status", label: "Handshake", render: (p) => partnerState(p.status) },
        { key: "roles", label: "Roles", render: (p) => rolesText(p.roles) },
        { key: "version", label: "Version", render: (p) => fmt.text(p.version) },
        { key: "registered_at", label: "Registered", render: (p) => when(p.registered_at) },
        { key: "pushes", label: "Push queue", render: pushCell },
        { key: "last_error", label: "Last error", render: (p) => (p.last_error ? h("span", { class: "roaming-error" }, p.last_error) : fmt.DASH) },
      ],
    });
    const identity = h("div", {}, h("p", { class: "muted" }, "Loading…"));
    const add = can("admin") ? h("a", { class: "button primary", href: href("/roaming/partners/new") }, "New partner") : null;
    root.append(
      subnav("/roaming"),
      pageHeader("Roaming partners", add),
      h("p", { class: "muted" },
        "The OCPI 2.2.1 platforms Ampyre roams with: eMSPs whose drivers charge at our stations, CPOs where our drivers charge. ",
        "A partner is registered once the credentials handshake (token A, then B and C) is done."),
      card("Partners", notice, table.el),
      card("Our OCPI identity", identity,
        h("p", { class: "muted" }, "Give a partner our versions URL and a token A (New partner) to let them register with us.")));
    const refresh = throttled(ctx, () => {
      if (!loader.state.missing) reloadKeepingFocus(table);
    });
    ctx.every(POLL_MS, refresh);
    ctx.live("reset", refresh);
    await identityView(identity);
  },
};

/** The form for a new partner: either they gave us a token A and their versions URL (we
 *  register with them), or we issue a token A for them (they register with us). */
export const newPartner = {
  path: "/roaming/partners/new",
  title: "New roaming partner",
  role: "admin",

  async render(root) {
    const errors = h("div", { "aria-live": "assertive" });
    const result = h("div", { "aria-live": "polite" });
    const name = h("input", { name: "name", required: true, maxlength: 100, autocomplete: "off" });
    const theirs = h("input", { type: "radio", name: "mode", value: "theirs", checked: true });
    const ours = h("input", { type: "radio", name: "mode", value: "ours" });
    const versionsUrl = h("input", { name: "versions_url", type: "url", maxlength: 255, autocomplete: "off", spellcheck: "false" });
    const token = h("input", { name: "token", maxlength: 255, autocomplete: "off", spellcheck: "false", class: "secret" });
    const registerNow = checkbox("Register now (the token A → B → C handshake)", true);
    const theirBox = h("div", { class: "partner-theirs" },
      field("Their versions URL", versionsUrl, "Where their OCPI versions are listed, ending in …/versions."),
      field("Their token A", token, "The token they gave us for the registration."),
      registerNow.el);
    const showMode = () => {
      theirBox.hidden = !theirs.checked;
      versionsUrl.required = theirs.checked;
      token.required = theirs.checked;
    };
    theirs.addEventListener("change", showMode);
    ours.addEventListener("change", showMode);
    showMode();
    const save = h("button", { type: "submit", class: "primary" }, "Create partner");
    const form = h("form", {
      class: "partner-form", "aria-label": "New roaming partner",
      onsubmit: async (event) => {
        event.preventDefault();
        errors.replaceChildren();
        save.disabled = true;
        try {
          const body = theirs.checked
            ? { name: name.value.trim(), versions_url: versionsUrl.value.trim(), token: token.value.trim() }
            : { name: name.value.trim(), versions_url: null, token: null };
          const created = await api.post("/ocpi/partners", body);
          const page = `/roaming/partners/${seg(created.id)}`;
          if (theirs.checked && registerNow.input.checked) {
            try {
              await api.post(`/ocpi/partners/${seg(created.id)}/register`);
              toast(`${created.name} is registered.`, "ok");
            } catch (err) {
              toast(`${created.name} was created, but the registration failed: ${err.detail || err.message}`, "error", 10000);
            }
            go(page);
            return;
          }
          if (theirs.checked) {
            toast(`${created.name} created. Register it from its page.`, "ok");
            go(page);
            return;
          }
          form.hidden = true;
          const me = await api.get("/ocpi/identity").catch(() => null);
          replace(result,
            h("h2", {}, `${created.name} created`),
            secretBox("Token A for them", String(created.token_a || ""),
              "Copy the token A now: it is shown only this once. Send it to the partner with our versions URL; they register with it."),
            me?.versions_url ? h("p", {}, "Our versions URL: ", urlText(me.versions_url)) : null,
            h("p", {}, h("a", { class: "button", href: href(page) }, `Go to ${created.name}`)));
        } catch (err) {
          errors.append(errorBox(err));
        } finally {
          save.disabled = false;
        }
      },
    },
    field("Name", name, "How this partner is called here."),
    h("fieldset", { class: "checks" },
      h("legend", {}, "Who starts the registration"),
      h("label", {}, theirs, " We register with them (they gave us a token and their URL)"),
      h("label", {}, ours, " They register with us (we issue a token A for them)")),
    theirBox,
    errors,
    h("div", { class: "actions" }, save, h("a", { class: "button", href: href("/roaming") }, "Cancel")));
    root.append(
      subnav("/roaming"),
      h("p", { class: "crumbs" }, h("a", { href: href("/roaming") }, "‹ Roaming partners")),
      pageHeader("New roaming partner"),
      h("section", { class: "card" }, form, result));
    name.focus();
  },
};
