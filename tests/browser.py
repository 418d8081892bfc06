"""What the browser tests share: Debian's Chromium, a page that collects console errors and
CSP violations, and signing in. The fixtures are made available to all tests by conftest.py."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

from prpclinic.clinics.models import User
from tests.conftest import PASSWORD

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Injected before any page script; CSP does not apply to it. A blocked script, style or request
# fires `securitypolicyviolation`, which we turn into a console error the test collects.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Chromium is not installed: the browser tests need Debian's chromium "
            "(apt-get install -y chromium). Do not run `playwright install`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors, uncaught exceptions and CSP violations seen by the page fixture."""
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        source = message.location.get("url", "")
        # Chromium asks for /favicon.ico on its own; the app does not serve one (not a page error).
        if message.type == "error" and not source.endswith("/favicon.ico"):
            console_errors.append(f"{page.url}: {message.text} ({source})")

    def on_page_error(error: Error) -> None:
        console_errors.append(f"{page.url}: uncaught {error.name}: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield page
    context.close()


def current_code(user: User, offset: int = 0) -> str:
    """The code the user's authenticator shows now (``offset`` steps later or earlier)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    code = totp(device.bin_key, step=device.step, t0=device.t0 - offset * device.step, digits=device.digits)
    return f"{code:0{device.digits}d}"


def sign_in_with_password(page: Page, base_url: str, user: User) -> None:
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(r"/account/login/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
