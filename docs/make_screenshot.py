"""Take docs/screenshot.png: a demo patient's chart, as the demo physician sees it.

Start the demo first (``make run``, DEBUG=1, port 8000), then from the project directory:

    .venv/bin/python docs/make_screenshot.py [--port 8000] [--output docs/screenshot.png]

It signs in as the demo physician, asks ``prpclinic demo_code`` for the current two-factor
code (same environment, so the same database), finds a patient by typing part of a name and
saves the chart at 1280x800. Uses Debian's Chromium (``apt-get install -y chromium``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, Response, expect, sync_playwright

DEMO_EMAIL = "physician@demo.prpclinic.test"
DEMO_PASSWORD = "prp-demo-clinic-2026"  # noqa: S105  (the public demo account's password)
DOCS = Path(__file__).resolve().parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def demo_code(email: str) -> str:
    """The current two-factor code of a demo account, from ``prpclinic demo_code``."""
    command = shutil.which("prpclinic", path=str(Path(sys.executable).parent)) or "prpclinic"
    result = subprocess.run(
        [command, "demo_code", email],
        env={**os.environ, "DEBUG": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.split():
        raise SystemExit(f"prpclinic demo_code failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.split()[0]


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(base + "/account/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/account/two-factor/")
    page.fill("input[name=token]", demo_code(email))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("active-clinic")).to_be_visible()


def open_chart(page: Page, base: str, fragment: str | None) -> None:
    """Find a patient the way a user does (typing into the search box) and open the chart.

    Without a ``fragment``, type the first four letters of the most recently updated record.
    """
    page.goto(base + "/")
    if fragment is None:
        recent = page.locator("a[href^='/patients/']").filter(has_text=",").first.inner_text()
        fragment = recent.split(",")[0][:4]
    page.locator("#q").press_sequentially(fragment, delay=60)
    first = page.get_by_test_id("search-results").get_by_role("link").first
    expect(first).to_be_visible()
    first.click()
    expect(page.get_by_test_id("patient-head")).to_be_visible()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--output", type=Path, default=DOCS / "screenshot.png")
    parser.add_argument("--email", default=DEMO_EMAIL)
    parser.add_argument("--password", default=DEMO_PASSWORD)
    parser.add_argument("--search", help="part of a patient's name to type (default: a recent one's)")
    args = parser.parse_args(argv)

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Chromium is not installed: apt-get install -y chromium (not `playwright install`).")
    base = f"http://{args.host}:{args.port}"
    failed: list[str] = []

    def on_response(response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            failed.append(f"{response.status} {response.url}")

    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
        page = context.new_page()
        page.on("response", on_response)
        try:
            sign_in(page, base, args.email, args.password)
            page.wait_for_load_state("load")
            # Without its stylesheet and htmx the page neither searches nor looks like itself.
            if not failed:
                open_chart(page, base, args.search)
                page.wait_for_load_state("load")
        except Exception:
            browser.close()
            raise
        if failed:
            browser.close()
            raise SystemExit("Not saved; these requests failed: " + ", ".join(sorted(set(failed))))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.output), full_page=False)
        shown = page.url
        browser.close()
    print(f"Saved {args.output} ({shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
