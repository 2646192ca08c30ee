// Modal dialogs on the native <dialog> element (focus trap, Escape to cancel for free).

import { h } from "../dom.js";
import { errorBox } from "./notice.js";

/** Ask before something disruptive. Resolves true when confirmed. */
export function confirmDialog(title, message, { confirmLabel = "Confirm", danger = false } = {}) {
  return new Promise((resolve) => {
    const cancel = h("button", { type: "button", value: "cancel" }, "Cancel");
    const ok = h("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary" }, confirmLabel);
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": "dlg-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "dlg-title" }, title),
        h("p", {}, message),
        h("div", { class: "actions" }, cancel, ok)));
    cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * A form in a dialog. `fields(form)` returns the field elements; `submit(form)` is async
 * and may throw an ApiError, shown inside the dialog (which then stays open). Resolves
 * with submit's result, or null when cancelled.
 */
export function formDialog(title, fields, submit, { submitLabel = "Save", danger = false } = {}) {
  return new Promise((resolve) => {
    const errors = h("div", { class: "dialog-errors" });
    const cancel = h("button", { type: "button" }, "Cancel");
    const ok = h("button", { type: "submit", class: danger ? "danger" : "primary" }, submitLabel);
    const form = h("form", { class: "dialog-form", novalidate: false });
    const dialog = h("dialog", { class: "dialog", "aria-label": title },
      h("h2", {}, title), form);
    form.append(...[fields(form)].flat(Infinity), errors, h("div", { class: "actions" }, cancel, ok));
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      errors.replaceChildren();
      ok.disabled = true;
      try {
        result = await submit(form);
        dialog.close();
      } catch (err) {
        errors.append(errorBox(err));
      } finally {
        ok.disabled = false;
      }
    });
    dialog.addEventListener("close", () => {
      resolve(result);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector("input, select, textarea");
    (first || ok).focus();
  });
}

/** Show a JSON-ish result (a station's answer) in a dialog. */
export function resultDialog(title, body) {
  const close = h("button", { type: "submit", class: "primary" }, "Close");
  const dialog = h("dialog", { class: "dialog", "aria-label": title },
    h("form", { method: "dialog" }, h("h2", {}, title), body, h("div", { class: "actions" }, close)));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
