"""The web UI's acceptance flows in a real browser against the live server and worker."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_destination(browser, name: str, host: str = "127.0.0.1") -> int:
    browser.visit("/destinations/new")
    browser.page.get_by_label("Name").fill(name)
    browser.page.get_by_label("Host").fill(host)
    browser.page.get_by_role("button", name="Create destination").click()
    browser.page.wait_for_url(re.compile(r"/destinations/\d+$"))
    return int(browser.page.url.rsplit("/", 1)[1])


def test_login_refuses_a_wrong_password_then_logs_in_and_out(browser):
    browser.guard.expect_console_error(r"status of 401")
    browser.visit("/jobs")
    assert browser.page.url.startswith(browser.url("/login?next="))
    browser.page.get_by_label("User name").fill("admin")
    browser.page.get_by_label("Password").fill("not the password")
    browser.page.get_by_role("button", name="Log in").click()
    expect(browser.page.locator("#login-error")).to_have_text("Wrong name or password.")

    browser.page.get_by_label("Password").fill("correct horse battery")
    browser.page.get_by_role("button", name="Log in").click()
    browser.page.wait_for_url(browser.url("/jobs"))  # back where the login was asked for

    browser.page.locator("#user-menu").click()
    browser.page.get_by_role("button", name="Log out").click()
    expect(browser.page.get_by_text("You are logged out.")).to_be_visible()
    browser.visit("/")
    assert browser.page.url.startswith(browser.url("/login"))


def test_create_destination_shows_the_bad_host_beside_its_field_then_saves_a_good_one(browser):
    browser.login()
    browser.guard.expect_console_error(r"status of 422")
    name = unique("loop")
    browser.visit("/destinations/new")
    page = browser.page
    page.get_by_label("Name").fill(name)
    page.get_by_label("Host").fill("bad host;rm -rf")
    page.get_by_role("button", name="Create destination").click()

    host = page.get_by_label("Host")
    expect(host).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator('[data-error-for="host"]')).to_contain_text("spaces")
    expect(page.locator('[data-error-for="_form"]')).to_have_text(
        "Please correct the marked fields."
    )
    assert page.url == browser.url("/destinations/new")  # nothing left the page, nothing saved

    host.fill("127.0.0.1")
    page.get_by_role("button", name="Create destination").click()
    page.wait_for_url(re.compile(r"/destinations/\d+$"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    browser.visit("/destinations?q=" + name)
    expect(page.locator("#destinations-table tbody tr")).to_have_count(1)


def test_browser_checks_required_fields_before_calling_the_api(browser):
    browser.login()
    browser.visit("/destinations/new")
    calls = []
    browser.page.on("request", lambda r: calls.append(r.url) if "/api/v1/" in r.url else None)
    browser.page.get_by_role("button", name="Create destination").click()
    expect(browser.page.get_by_label("Name")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(browser.page.get_by_label("Host")).to_have_class(re.compile(r"\bis-invalid\b"))
    assert calls == []


def test_probe_now_pings_the_destination_and_shows_the_result_in_place(browser):
    browser.login()
    destination = create_destination(browser, unique("probe"))
    page = browser.page
    page.get_by_role("button", name="Probe now").click()
    result = page.locator("#probe-result")
    expect(result).to_be_visible()
    expect(result.locator("[data-probe-body] .badge").first).to_have_text("ok")
    expect(result.locator('[data-metric="loss_pct"] .value')).to_have_text("0 %")
    expect(result.locator('[data-metric="rtt_avg_ms"] .value')).to_contain_text("ms")
    expect(result.locator(".probe-rtts .badge")).to_have_count(5)
    assert page.url == browser.url(f"/destinations/{destination}")
    browser.shoot("destination-probed")


def test_job_with_generated_parameters_and_a_window_runs_now_and_pauses(browser):
    browser.login()
    destination = unique("job-target")
    create_destination(browser, destination)
    name = unique("ping-job")
    browser.guard.expect_console_error(r"status of 422")

    browser.visit("/jobs/new")
    page = browser.page
    page.locator("#f-name").fill(name)
    page.get_by_label("Collector").select_option("ping")
    # The ping collector's parameters, generated from its JSON Schema with its defaults.
    count = page.locator('[name="params.count"]')
    expect(count).to_have_value("5")
    expect(page.locator('[name="params.interval"]')).to_have_value("1")
    expect(page.locator('[name="params.ttl"]')).to_have_value("")
    count.fill("0")  # below the schema's minimum of 1: refused by the browser first
    page.get_by_role("button", name="Create job").click()
    expect(count).to_have_class(re.compile(r"\bis-invalid\b"))

    count.fill("3")
    page.locator('[name="params.interval"]').fill("0.1")
    page.get_by_placeholder("Filter destinations").fill(destination)
    page.get_by_label(re.compile(destination)).check()
    page.get_by_label("Every (seconds)").fill("3600")
    page.get_by_role("button", name="Add a window").click()
    window = page.locator("[data-window-row]").first
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        window.locator(f"label[for$='-{day}']").click()
    window.get_by_label("From").fill("22:00")
    window.get_by_label("To").fill("22:00")  # equal: a whole day, so the job is open now
    page.get_by_label("Time zone of the windows").fill("Europe/Paris")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("#job-windows")).to_contain_text("22:00\u201322:00")
    expect(page.locator("#job-windows")).to_contain_text("Europe/Paris")
    expect(page.locator("#job-state [data-state]")).to_have_attribute("data-state", "active")
    expect(page.locator("#planned-runs li")).to_have_count(5)

    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_text(re.compile(r"Run \d+ queued\."))).to_be_visible()
    manual = page.locator("#runs-table tr[data-run]", has_text="run now")
    expect(manual).to_have_count(1)
    # The live worker picks it up; the table refreshes itself until the run is done.
    expect(manual.first).to_have_attribute("data-run-status", "succeeded", timeout=30_000)
    browser.shoot("job-detail")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#job-state [data-state]")).to_have_attribute("data-state", "paused")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.locator("#planned-runs")).to_have_count(0)

    browser.visit(f"/jobs/{job_id}/edit")
    expect(page.locator('[name="params.count"]')).to_have_value("3")
    expect(page.locator('[name="windows.0.start"]')).to_have_value("22:00")
    browser.shoot("job-edit")
    browser.visit("/jobs")
    expect(page.locator(f'tr[data-job="{name}"] [data-state]')).to_have_attribute(
        "data-state", "paused"
    )
    browser.shoot("jobs")
    browser.visit(f"/jobs/{job_id}/delete")
    browser.shoot("job-delete")
    browser.visit("/")
    browser.shoot("dashboard")


def test_deleting_a_destination_a_job_uses_explains_the_conflict(browser):
    browser.login()
    name = unique("in-use")
    destination = create_destination(browser, name)
    job = browser.page.evaluate(
        """async ([name, id]) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/v1/jobs', {method: 'POST', headers: {
                'Content-Type': 'application/json', 'X-CSRFToken': token},
                body: JSON.stringify({name, collector: 'ping', interval_s: 3600, destinations: [id],
                                      enabled: false})});
            return (await r.json()).name;
        }""",
        [unique("user-of"), destination],
    )
    browser.guard.expect_console_error(r"status of 409")
    browser.visit(f"/destinations/{destination}/delete")
    page = browser.page
    expect(page.locator("#using-jobs")).to_contain_text(job)
    page.get_by_role("button", name="Delete destination").click()
    expect(page.locator("#delete-error")).to_contain_text(f"is used by 1 job(s): {job}")

    page.get_by_label(re.compile("Remove it from this job first")).check()
    page.get_by_role("button", name="Delete destination").click()
    page.wait_for_url(browser.url("/destinations"))
    expect(page.get_by_text(f"Destination {name} deleted.")).to_be_visible()


def test_a_viewer_sees_everything_and_finds_no_way_to_change_anything(browser):
    destination = browser.live.api(
        "POST", "/destinations", {"name": unique("seen"), "host": "127.0.0.1"}
    )["id"]
    job = browser.live.api(
        "POST",
        "/jobs",
        {
            "name": unique("seen"),
            "collector": "ping",
            "interval_s": 3600,
            "destinations": [destination],
        },
    )["id"]
    browser.login("viewer")
    actions = re.compile(r"^(probe now|run now|pause|resume|save|create.*|delete.*)$", re.I)
    pages = ("/", "/destinations", f"/destinations/{destination}", "/jobs", f"/jobs/{job}")
    for path in (*pages, "/reports"):
        browser.visit(path)
        main = browser.page.locator("main")
        expect(main.get_by_role("button", name=actions)).to_have_count(0)
        expect(main.locator("a[href$='/new'], a[href$='/edit'], a[href$='/delete']")).to_have_count(
            0
        )
        expect(main.locator("form[method=post]")).to_have_count(0)
    browser.visit(f"/jobs/{job}")
    browser.shoot("viewer-job")
    browser.guard.expect_console_error(r"status of 403")
    browser.visit("/destinations/new")
    expect(browser.page.locator("#error-message")).to_contain_text("Only an admin")
    browser.shoot("error-403")

    answer = browser.page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/v1/destinations', {method: 'POST', headers: {
                'Content-Type': 'application/json', 'X-CSRFToken': token},
                body: JSON.stringify({name: 'from-a-viewer', host: '127.0.0.1'})});
            return [r.status, (await r.json()).error.code];
        }"""
    )
    assert answer == [403, "forbidden"]


def test_a_session_call_without_the_csrf_token_is_refused_and_changes_nothing(browser):
    browser.login()
    browser.guard.expect_console_error(r"status of 403")
    name = unique("no-token")
    status, code, total = browser.page.evaluate(
        """async (name) => {
            const r = await fetch('/api/v1/destinations', {method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({name, host: '127.0.0.1'})});
            const listed = await (await fetch('/api/v1/destinations?q=' + name)).json();
            return [r.status, (await r.json()).error.code, listed.total];
        }""",
        name,
    )
    assert (status, code, total) == (403, "csrf_failed", 0)


def test_the_api_client_retries_a_call_that_met_a_network_failure(browser):
    browser.login()
    failures = []

    def fail_once(route):
        if not failures:
            failures.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    browser.page.route("**/api/v1/collectors", fail_once)
    browser.guard.expect_console_error(r"ERR_CONNECTION_RESET")
    browser.visit("/jobs/new")
    expect(browser.page.locator('[name="params.count"]')).to_have_value("5")
    assert len(failures) == 1


def test_the_job_form_marks_every_field_the_server_names_not_only_the_first(browser):
    browser.login()
    browser.guard.expect_console_error(r"status of 422")
    browser.visit("/jobs/new")
    page = browser.page
    page.locator("#f-name").fill(unique("two-errors"))
    page.get_by_label("Collector").select_option("ping")
    page.get_by_label("Every (seconds)").fill("60")
    page.get_by_role("button", name="Add a window").click()
    window = page.locator("[data-window-row]").first
    window.get_by_label("From").fill("08:00")
    window.get_by_label("To").fill("18:00")  # and no day ticked: the API refuses the days
    page.get_by_label("Time zone of the windows").fill("Mars/Olympus_Mons")
    page.get_by_role("button", name="Create job").click()

    expect(page.locator('[data-error-for="timezone"]')).to_contain_text("Unknown time zone")
    expect(page.locator('[data-error-for="windows.0.days"]')).not_to_be_empty()
    expect(page.get_by_label("Time zone of the windows")).to_have_class(
        re.compile(r"\bis-invalid\b")
    )
    assert page.url.endswith("/jobs/new")  # nothing saved
