"""The quickstart notebook in JupyterLab, in headless Debian chromium (Playwright).

It runs every cell and checks that the live monitor shows the job COMPLETED with
its histogram; the screenshot is saved to tests/artifacts/quickstart.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"

needs_browser = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="Debian chromium is not installed (.ci/run installs it; CI never skips this test)",
)


@pytest.fixture
def lab(tmp_path):
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", tmp_path / "quickstart.ipynb")
    server = ServerProcess(tmp_path, app="jupyterlab", db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.5)
    server.start(timeout=90)
    yield server
    server.stop()


@needs_browser
@pytest.mark.timeout(300)
def test_quickstart_runs_in_jupyterlab_and_the_monitor_shows_a_completed_job_with_its_histogram(lab):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            _check_quickstart(page, lab, expect)
        except Exception:
            if "page" in locals():
                page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _accept_kernel_dialog(page) -> None:
    """JupyterLab sometimes asks which kernel to start: keep the notebook's own
    (and tick "always start the preferred kernel", so it does not ask again)."""
    dialog = page.locator("dialog.jp-Dialog")
    if not dialog.count() or not dialog.first.is_visible():
        return
    always = dialog.first.locator("input[type=checkbox]")
    if always.count() and not always.first.is_checked():
        always.first.check(timeout=5_000)
    dialog.first.locator("button.jp-mod-accept").first.click(timeout=5_000)
    page.wait_for_timeout(1_000)


def _run_all_cells(page, expect) -> None:
    """Run > Run All Cells, again if the kernel was not ready yet (at most 4 times)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    first_prompt = page.locator(".jp-CodeCell .jp-InputArea-prompt").first
    for attempt in range(4):
        _accept_kernel_dialog(page)
        try:
            page.get_by_role("menuitem", name="Run", exact=True).click(timeout=5_000)
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=5_000)
            expect(first_prompt).not_to_have_text("[ ]:", timeout=15_000)
            return
        except (AssertionError, PlaywrightTimeout):
            page.keyboard.press("Escape")  # close a menu left open
            if attempt == 3:
                raise


def _check_quickstart(page, lab, expect) -> None:
    # A session with its kernel made beforehand: JupyterLab attaches to it rather
    # than asking which kernel to start.
    status, session = lab.request("POST", "/api/sessions", {"path": "quickstart.ipynb", "type": "notebook", "name": "quickstart.ipynb", "kernel": {"name": "python3"}})
    assert status == 201, session
    page.goto(f"{lab.url}/lab/tree/quickstart.ipynb?token={lab.token}", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first).to_be_attached(timeout=60_000)
    _run_all_cells(page, expect)

    monitor = page.locator(".hal-monitor").first
    expect(monitor).to_contain_text("COMPLETED", timeout=120_000)
    histogram = monitor.locator(".hal-histogram").first
    expect(histogram).to_be_visible(timeout=60_000)
    expect(histogram).to_contain_text("00")
    expect(histogram).to_contain_text("11")
    expect(monitor).to_contain_text("bell-live")
    monitor.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "quickstart.png"))
    monitor.screenshot(path=str(ARTIFACTS / "quickstart-monitor.png"))
    # the last cells ran too: `%hal jobs` lists the jobs
    jobs_table = page.locator(".jp-OutputArea-output table", has_text="created_at").last
    expect(jobs_table).to_contain_text("bell-live", timeout=60_000)
    expect(jobs_table).to_contain_text("COMPLETED")
    # JupyterLab's own page config holds the token; our outputs and widgets never do
    assert lab.token not in page.locator(".jp-NotebookPanel").first.inner_html()
