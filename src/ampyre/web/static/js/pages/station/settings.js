// The station page's Settings tab (admin): registration status, description, the
// security profile 1 password (generated here, shown once), and deleting the station.

import { api } from "../../api.js";
import { confirmDialog } from "../../components/dialog.js";
import { attempt } from "../../components/notice.js";
import { field, h, replace, select } from "../../dom.js";
import { go } from "../../router.js";
import { REGISTRATION } from "./parts.js";

// Letters and digits only: nothing a station's configuration tool or a shell would
// mangle; 24 of them are ~143 bits.
const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
export const PASSWORD_LENGTH = 24;

/** A random password from the browser's CSPRNG, without modulo bias. */
export function randomPassword(length = PASSWORD_LENGTH) {
  const limit = 256 - (256 % ALPHABET.length); // bytes >= limit would favour some letters
  let out = "";
  while (out.length < length) {
    const bytes = new Uint8Array(length * 2);
    crypto.getRandomValues(bytes);
    for (const b of bytes) {
      if (b < limit && out.length < length) out += ALPHABET[b % ALPHABET.length];
    }
  }
  return out;
}

/** Show a new password once, with a copy button; it is not kept anywhere. */
function showPasswordOnce(stationId, password) {
  const input = h("input", { type: "text", readonly: true, value: password, class: "secret", spellcheck: "false", autocomplete: "off" });
  const copied = h("span", { class: "muted", "aria-live": "polite" });
  const copy = h("button", {
    type: "button",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(password);
        copied.textContent = "Copied.";
      } catch {
        input.select();
        copied.textContent = "Select and copy it (Ctrl+C): the browser did not allow copying.";
      }
    },
  }, "Copy");
  const close = h("button", { type: "submit", class: "primary" }, "Done");
  const dialog = h("dialog", { class: "dialog", "aria-label": "New station password" },
    h("form", { method: "dialog" },
      h("h2", {}, "New password"),
      h("p", {}, `The station ${stationId} must now send this password (HTTP Basic, user name = its id). `,
        h("strong", {}, "It is shown only this once.")),
      field("Password", input),
      h("div", { class: "actions" }, copy, copied),
      h("div", { class: "actions" }, close)));
  dialog.addEventListener("close", () => {
    input.value = "";
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  input.select();
}

export function settingsTab(panel, env) {
  const status = select({ name: "registration_status" }, REGISTRATION, env.station().registration_status);
  const description = h("textarea", { name: "description", rows: 3, maxlength: 500 });
  description.value = env.station().description || "";
  const save = h("button", { type: "submit", class: "primary" }, "Save");
  const form = h("form", {
    class: "settings-form",
    onsubmit: async (event) => {
      event.preventDefault();
      save.disabled = true;
      const text = description.value.trim();
      const done = await attempt(() => api.patch(env.path, {
        registration_status: status.value,
        description: text === "" ? null : text,
      }), "Settings saved.");
      save.disabled = false;
      if (done) await env.reloadStation().catch(() => {});
    },
  },
  field("Registration status", status, "What Ampyre answers the station's BootNotification: Accepted, Pending (try later) or Rejected."),
  field("Description", description),
  h("div", { class: "actions" }, save));

  const passwordState = h("p");
  function drawPassword() {
    replace(passwordState, env.station().has_password
      ? "The station has a password: it must send it with HTTP Basic (security profile 1)."
      : "No password: the station connects without credentials (security profile 0).");
    remove.hidden = !env.station().has_password;
  }
  const setPassword = h("button", {
    type: "button",
    onclick: async () => {
      const had = env.station().has_password;
      const ok = await confirmDialog(had ? "Reset the password?" : "Set a password?",
        had ? "The station's current password stops working at once: the station cannot connect until it is configured with the new one."
          : "The station must send the new password from its next connection on.",
        { confirmLabel: had ? "Reset password" : "Set password", danger: had });
      if (!ok) return;
      const password = randomPassword();
      const done = await attempt(() => api.patch(env.path, { password }));
      if (!done) return;
      showPasswordOnce(env.id, password);
      await env.reloadStation().catch(() => {});
      drawPassword();
      setPassword.textContent = "Reset password…";
    },
  }, env.station().has_password ? "Reset password…" : "Set password…");
  const remove = h("button", {
    type: "button",
    onclick: async () => {
      const ok = await confirmDialog("Remove the password?",
        "The station may then connect without credentials (security profile 0).",
        { confirmLabel: "Remove password", danger: true });
      if (!ok) return;
      const done = await attempt(() => api.patch(env.path, { password: null }), "Password removed.");
      if (!done) return;
      await env.reloadStation().catch(() => {});
      drawPassword();
      setPassword.textContent = "Set password…";
    },
  }, "Remove password");
  drawPassword();

  const del = h("button", {
    type: "button",
    class: "danger",
    onclick: async () => {
      const ok = await confirmDialog(`Delete ${env.id}?`,
        "The station is removed from the registry and disconnected.",
        { confirmLabel: "Delete station", danger: true });
      if (!ok) return;
      const done = await attempt(() => api.del(env.path).then(() => true), `Station ${env.id} deleted.`);
      if (done) go("/stations");
    },
  }, "Delete station…");

  panel.append(
    h("h2", {}, "Settings"),
    h("section", { class: "settings-part", "aria-labelledby": "set-reg" }, h("h3", { id: "set-reg" }, "Registration"), form),
    h("section", { class: "settings-part", "aria-labelledby": "set-pw" },
      h("h3", { id: "set-pw" }, "Security profile 1 password"),
      passwordState,
      h("p", { class: "muted" }, `A new password is made here in your browser (${PASSWORD_LENGTH} random letters and digits) and shown once.`),
      h("div", { class: "actions" }, setPassword, remove)),
    h("section", { class: "settings-part danger-zone", "aria-labelledby": "set-del" },
      h("h3", { id: "set-del" }, "Delete"),
      h("div", { class: "actions" }, del)));
}
