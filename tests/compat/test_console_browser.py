"""The admin console in a real browser: headless Chromium (Debian's, driven by Playwright) against the
live service (the Procfile's server, two workers, its own redis-server), as an operator uses it.

Screenshots land in the test's own folder (pytest's tmp_path, printed on failure); with
REFRESHD_SCREENSHOT_DIR set (docs/screenshots), they are saved there as well, for the README."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from playwright.sync_api import Dialog, Page, expect, sync_playwright

from tests.compat.conftest import Service
from tests.conftest import API_KEY

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


def _save(page: Page, folder: Path, name: str) -> Path:
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("REFRESHD_SCREENSHOT_DIR")
    if extra:
        shutil.copy(path, Path(extra) / name)
    return path


def _sign_in_with_the_keyboard(page: Page, base_url: str) -> None:
    page.goto(base_url + "/admin/login")
    page.get_by_label("API key").fill(API_KEY)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sessions and revocation")).to_be_visible()


def test_an_operator_revokes_one_of_two_sessions_in_chromium(service: Service, tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "chromium is missing: `make test` installs it with apt"
    created = service.client.create_application(
        {"application": {"name": "Storefront", "jwtConfiguration": {"enabled": True, "timeToLiveInSeconds": 600}}}
    )
    application_id = created.success_response["application"]["id"]
    user_id = str(uuid.uuid4())
    laptop, phone = service.mint(user_id, application_id, "laptop"), service.mint(user_id, application_id, "phone")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            _sign_in_with_the_keyboard(page, service.base_url)
            page.goto(f"{service.base_url}/admin/users/{user_id}")
            sessions = page.locator("tr[data-refresh-token-id]")
            expect(sessions).to_have_count(2)
            _save(page, tmp_path, "sessions.png")

            asked: list[str] = []

            def accept(dialog: Dialog) -> None:
                asked.append(dialog.message)
                dialog.accept()

            page.once("dialog", accept)
            row = page.locator(f'tr[data-refresh-token-id="{laptop["refreshTokenId"]}"]')
            row.get_by_role("button", name="Revoke", exact=True).click()
            expect(row).to_have_count(0)
            expect(sessions).to_have_count(1)
            expect(page.get_by_role("status")).to_contain_text("invalidatedTokens 1, previouslyInvalidatedTokens 0")
            assert asked and "laptop" in asked[0]
            service.assert_revoked(laptop["refreshToken"])
            service.assert_live(phone["refreshToken"])

            _refuses_a_dismissed_confirm_and_a_missing_csrf_token(page, phone["refreshTokenId"])
            service.assert_live(phone["refreshToken"])

            page.goto(f"{service.base_url}/admin/applications/{application_id}")
            expect(page.locator("[data-live-sessions]")).to_have_text("1")
            _save(page, tmp_path, "application.png")
            _fits_a_phone(page, f"{service.base_url}/admin/users/{user_id}", tmp_path)
        finally:
            browser.close()


def _refuses_a_dismissed_confirm_and_a_missing_csrf_token(page: Page, token_id: str) -> None:
    row = page.locator(f'tr[data-refresh-token-id="{token_id}"]')
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Revoke", exact=True).click()
    expect(row).to_have_count(1)
    page.evaluate("document.querySelectorAll('input[name=csrfToken]').forEach(field => field.remove())")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.get_by_role("button", name="Revoke", exact=True).click()
    expect(page.get_by_role("heading", name="Form expired")).to_be_visible()


def _fits_a_phone(page: Page, url: str, folder: Path) -> None:
    page.set_viewport_size(PHONE)
    page.goto(url)
    expect(page.locator("tr[data-refresh-token-id]")).to_have_count(1)
    fits, too_wide = page.evaluate(
        """() => [document.documentElement.scrollWidth <= window.innerWidth,
                  [...document.querySelectorAll("body *")]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                    .map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))]"""
    )
    assert fits, f"the page scrolls sideways at {PHONE['width']} px; too wide: {too_wide}"
    _save(page, folder, "sessions-phone.png")
