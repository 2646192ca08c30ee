// The signed-in user's own account: "Change my password" (POST /session/password; the
// user's other sessions end, this one stays), and the new-password pair the users page
// also uses (typed twice; the server's rule, at least 12 characters, checked here first
// so a typo costs no round trip).

import { api } from "../api.js";
import { field, h } from "../dom.js";
import { formDialog } from "./dialog.js";
import { toast } from "./notice.js";

export const PASSWORD_MIN = 12;

/** Two password inputs; value() returns the password or throws a readable Error. */
export function newPassword(label = "New password") {
  const first = h("input", { type: "password", required: true, minlength: PASSWORD_MIN, maxlength: 1024, autocomplete: "new-password" });
  const again = h("input", { type: "password", required: true, minlength: PASSWORD_MIN, maxlength: 1024, autocomplete: "new-password" });
  return {
    fields: [
      field(label, first, `At least ${PASSWORD_MIN} characters.`),
      field("Repeat it", again),
    ],
    value() {
      if (first.value.length < PASSWORD_MIN) throw new Error(`The password needs at least ${PASSWORD_MIN} characters.`);
      if (first.value !== again.value) throw new Error("The two passwords differ.");
      return first.value;
    },
  };
}

/** Open the dialog; resolves true when the password was changed. */
export async function changePasswordDialog() {
  const current = h("input", { type: "password", required: true, autocomplete: "current-password" });
  const next = newPassword();
  const done = await formDialog("Change my password", () => [
    field("Current password", current),
    ...next.fields,
  ], async () => {
    const password = next.value();
    await api.post("/session/password", { current_password: current.value, new_password: password });
    return true;
  }, { submitLabel: "Change password" });
  if (done) toast("Password changed. Your other sessions are signed out.", "ok");
  return Boolean(done);
}
