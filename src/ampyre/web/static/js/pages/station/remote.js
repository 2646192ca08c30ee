// More station commands for the Commands tab: a vendor DataTransfer, 2.x
// GetTransactionStatus and SetNetworkProfile, and the ChangeAvailability commands the
// station answered Scheduled (followed until applied).

import { api } from "../../api.js";
import { jsonBlock, runCommand } from "../../components/command.js";
import { formDialog, resultDialog } from "../../components/dialog.js";
import { badge, errorBox } from "../../components/notice.js";
import { field, h, select } from "../../dom.js";
import * as fmt from "../../format.js";

const text = (name, props = {}) => h("input", { name, autocomplete: "off", spellcheck: "false", ...props });

export function remoteCommands(env) {
  const station = env.station;
  const v16 = () => station().ocpp_version === "ocpp1.6";
  const post = (suffix, body) => api.post(`${env.path}/${suffix}`, body);

  async function dataTransfer() {
    const input = await formDialog("Data transfer", () => [
      field("Vendor id", text("vendor_id", { required: true, maxlength: 255 }), "The vendor whose extension this is."),
      field("Message id (optional)", text("message_id", { maxlength: 50 })),
      field("Data (optional)", h("textarea", { name: "data", rows: 3, spellcheck: "false" }),
        v16() ? "Sent as text (OCPP 1.6 data is a string)." : "JSON (an object, a list, a number, a quoted string); anything else is sent as text."),
    ], async (form) => {
      const body = { vendor_id: form.elements.vendor_id.value.trim() };
      const id = form.elements.message_id.value.trim();
      if (id) body.message_id = id;
      const raw = form.elements.data.value;
      if (raw !== "") {
        if (v16()) body.data = raw;
        else {
          try {
            body.data = JSON.parse(raw);
          } catch {
            body.data = raw;
          }
        }
      }
      return body;
    }, { submitLabel: "Send" });
    if (!input) return;
    await runCommand("Data transfer", () => post("data-transfer", input));
  }

  async function transactionStatus() {
    const id = await formDialog("Transaction status", () => [
      field("Transaction id (optional)", text("transaction_id", { maxlength: 36 }),
        "The station's transaction id. Left empty: only whether it has queued transaction messages."),
    ], async (form) => form.elements.transaction_id.value.trim(), { submitLabel: "Ask" });
    if (id === null || id === undefined) return;
    await runCommand("Transaction status", () => post("transaction-status", id ? { transaction_id: id } : {}), {
      render: (a) => h("div", {},
        h("p", {}, "Ongoing: ", a.ongoing === null ? fmt.DASH : a.ongoing ? "yes" : "no",
          " · messages queued: ", a.messages_in_queue === null ? fmt.DASH : a.messages_in_queue ? "yes" : "no"),
        jsonBlock(a.response)),
    });
  }

  async function networkProfile() {
    const input = await formDialog("Network profile", () => [
      field("Slot", text("slot", { type: "number", min: 0, required: true, value: "1" }), "The configuration slot to store it in."),
      field("CSMS URL", text("csms_url", { required: true, maxlength: 2000, placeholder: "wss://csms.example.net/ocpp" })),
      field("Security profile", select({ name: "security_profile" }, [["1", "1: password, no TLS (ws://)"], ["2", "2: TLS and password (wss://)"], ["3", "3: TLS client certificate (wss://)"]], "2")),
      field("Interface", select({ name: "interface" }, ["Wired0", "Wired1", "Wired2", "Wired3", "Wireless0", "Wireless1", "Wireless2", "Wireless3"], "Wired0")),
    ], async (form) => ({
      configuration_slot: Number(form.elements.slot.value),
      csms_url: form.elements.csms_url.value.trim(),
      security_profile: Number(form.elements.security_profile.value),
      interface: form.elements.interface.value,
    }), { submitLabel: "Set" });
    if (!input) return;
    await runCommand("Network profile", () => post("network-profile", input));
  }

  async function scheduledChanges() {
    try {
      const page = await api.get(`${env.path}/availability-changes`, { limit: 20 });
      const items = page.items || [];
      resultDialog("Scheduled availability changes", items.length
        ? h("table", { class: "data" },
          h("caption", { class: "visually-hidden" }, "Scheduled availability changes"),
          h("thead", {}, h("tr", {}, ["Target", "Change", "State", "Asked", "Applied"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, items.map((c) => h("tr", {},
            h("td", {}, c.evse_id ? `EVSE ${c.evse_id}${c.connector_id ? ` / ${c.connector_id}` : ""}` : "Whole station"),
            h("td", {}, c.operative ? "Operative" : "Inoperative"),
            h("td", {}, badge(c.state)),
            h("td", {}, fmt.time(c.requested_at)),
            h("td", {}, c.applied_at ? fmt.time(c.applied_at) : fmt.DASH)))))
        : h("p", {}, "No change was answered Scheduled."));
    } catch (err) {
      resultDialog("Scheduled availability changes", errorBox(err));
    }
  }

  const list = [
    ["Data transfer", "A vendor-specific message.", dataTransfer],
    ["Scheduled availability", "Availability changes waiting for a transaction to end.", scheduledChanges],
  ];
  if (!v16()) {
    list.push(["Transaction status", "Is a transaction still running; are messages queued?", transactionStatus]);
    list.push(["Network profile", "Store a connection profile in a slot (SetNetworkProfile).", networkProfile]);
  }
  return list;
}
