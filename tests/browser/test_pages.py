"""Every page renders cleanly (no console error, nothing fetched from elsewhere) at desktop
and phone width; screenshots of each go to test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def _make_destination(browser, name: str, host: str = "127.0.0.1") -> str:
    browser.visit("/destinations/new")
    page = browser.page
    page.get_by_label("Name").fill(name)
    page.get_by_label("Host").fill(host)
    page.get_by_label("Labels").fill("site=lab\nrole=loopback")
    page.get_by_role("button", name="Create destination").click()
    page.wait_for_url(re.compile(r"/destinations/\d+$"))
    return page.url.removeprefix(browser.live.url)


def test_every_page_renders_cleanly_at_desktop_and_phone_width(browser):
    browser.visit("/login")
    browser.shoot("login")
    browser.login()
    browser.shoot("dashboard-empty")
    browser.visit("/destinations")
    browser.shoot("destinations-empty")
    browser.visit("/jobs")
    browser.shoot("jobs-empty")

    detail = _make_destination(browser, "pages-loopback")
    browser.visit(detail)
    browser.shoot("destination-detail")
    browser.visit(detail + "/edit")
    browser.shoot("destination-edit")
    browser.visit(detail + "/delete")
    browser.shoot("destination-delete")
    browser.visit("/destinations")
    browser.shoot("destinations")
    browser.visit("/destinations/new")
    browser.shoot("destination-new")
    browser.visit("/jobs/new")
    browser.page.wait_for_selector("[name='params.count']")
    browser.shoot("job-new")
    browser.visit("/reports")
    browser.shoot("reports")
    browser.guard.expect_console_error(r"status of 404")
    browser.visit("/no/such/page")
    browser.shoot("error-404")
