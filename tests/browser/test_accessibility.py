"""Accessibility basics on every main page, as an admin (who is offered the most): every
form control, button, link and image has an accessible name, ids are unique, there is
one h1, the tab order reaches the page's content, and text has WCAG AA contrast
against what is behind it (4.5:1, large text 3:1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_harness import AmpyreServer
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# Elements without an accessible name (a simplified version of the accname rules that
# covers how our pages name things: text, aria-label, aria-labelledby, <label>, alt, title).
UNNAMED = """() => {
  const name = (el) => (el.getAttribute("aria-label") || "").trim()
    || (el.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent || "").join("").trim()
    || [...(el.labels || [])].map((l) => l.textContent).join("").trim()
    || (el.getAttribute("title") || "").trim();
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const bad = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || !visible(el)) continue;
    if (!name(el)) bad.push(el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!visible(el)) continue;
    const text = (el.textContent || "").trim()
      || [...el.querySelectorAll("img[alt]")].map((i) => i.alt).join("").trim();
    if (!text && !name(el)) bad.push(el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) bad.push(el.outerHTML.slice(0, 120));
  }
  return bad;
}"""

# Text whose contrast against its (composited) background is below WCAG 2 AA.
LOW_CONTRAST = (Path(__file__).parent / "low_contrast.js").read_text()

DUPLICATE_IDS = """() => {
  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) seen.set(el.id, (seen.get(el.id) || 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}"""


def check_page(page: Page, where: str) -> None:
    """This file's checks on what a page shows now (dialogs included): loaded, one h1,
    named controls, unique ids, enough contrast. Other browser tests call it."""
    expect(page.locator("main[aria-busy='true']")).to_have_count(0)
    expect(page.locator("h1")).to_have_count(1)
    for check in (UNNAMED, DUPLICATE_IDS, LOW_CONTRAST):
        assert page.evaluate(check) == [], (where, check[:40])


def test_main_pages_name_their_controls(
    server: AmpyreServer, charger: str, admin_page: Page
) -> None:
    page = admin_page
    tx = server.active_transaction(charger)
    pages = {
        "/#/": "Overview",
        "/#/stations": "Stations",
        f"/#/stations/{charger}?tab=commands": f"Station {charger}",
        "/#/transactions": "Transactions",
        f"/#/transactions/{tx['id']}": f"Transaction #{tx['id']}",
        "/#/id-tokens": "Id tokens",
        "/#/webhooks": "Webhooks",
        "/#/nodes": "Nodes",
        "/#/configuration": "Configuration",
        "/#/firmware": "Firmware",
        "/#/alerts": "Alerts",
        f"/#/stations/{charger}?tab=alerts": f"Station {charger}",
        f"/#/stations/{charger}?tab=configuration": f"Station {charger}",
        "/#/sites": "Sites",  # issue 18 (H4); a site's page: test_smart_charging.py
        f"/#/stations/{charger}?tab=charging": f"Station {charger}",
        "/#/security": "Security events",
        "/#/security/certificates": "Station certificates",
        "/#/security/pki": "PKI",
        "/#/security/contract-certificates": "Plug & Charge contract certificates",
        f"/#/stations/{charger}?tab=security": f"Station {charger}",
        # Roaming (issue 20); pages with data: test_roaming_pages.py
        "/#/roaming": "Roaming partners",
        "/#/roaming/partners/new": "New roaming partner",
        "/#/roaming/push-queue": "OCPI push queue",
        "/#/roaming/locations": "Locations",
        "/#/roaming/locations/new": "New location",
        "/#/roaming/tariffs": "Tariffs",
        "/#/roaming/tariffs/new": "New tariff",
        "/#/roaming/sessions": "Roaming sessions",
        "/#/roaming/cdrs": "CDRs",
        "/#/roaming/cdrs?view=received": "CDRs",
        # pages with data: test_roaming_tokens_commands.py
        "/#/roaming/tokens": "Roaming tokens",
        "/#/roaming/tokens?view=published": "Roaming tokens",
        "/#/roaming/tokens?view=authorizations": "Roaming tokens",
        "/#/roaming/commands": "OCPI commands",
    }
    for path, heading in pages.items():
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.locator("main[aria-busy='true']")).to_have_count(0)
        expect(page.locator("h1")).to_have_count(1)
        assert page.evaluate(UNNAMED) == [], path
        assert page.evaluate(DUPLICATE_IDS) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path
        assert page.evaluate("document.documentElement.lang") == "en"

        # From the main region, Tab moves into the page's own controls.
        page.locator("main#main").focus()
        page.keyboard.press("Tab")
        inside = page.evaluate("document.getElementById('main').contains(document.activeElement)")
        assert inside, f"{path}: Tab from the main region left it"


def test_sign_in_page_contrast_and_the_contrast_check_itself(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_label("User name")).to_be_visible()
    assert page.evaluate(LOW_CONTRAST) == []
    # The check does find pale text (so the assertions above can fail).
    page.evaluate(
        """() => { const p = document.createElement("p"); p.textContent = "pale";
        p.style.color = "#bbbbbb"; document.querySelector("main").append(p); }"""
    )
    found = page.evaluate(LOW_CONTRAST)
    assert len(found) == 1 and "pale" in found[0]
