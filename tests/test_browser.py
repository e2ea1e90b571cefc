"""JupyterLab in headless Debian chromium (Playwright).

- The quickstart notebook: it runs every cell and checks that the live monitor
  shows the job COMPLETED with its histogram (tests/artifacts/quickstart.png).
- The HAL Jobs panel on a store of 5,000 jobs: live rows, paging, cancel, the
  detail's histogram, filters, notifications (tests/artifacts/hal-jobs-panel.png),
  spend control (a job HELD by a budget, costs, the budgets' summary:
  tests/artifacts/hal-jobs-spend.png), and the API docs' "Try it out"
  (tests/artifacts/api-docs.png).

JupyterLab loads this checkout's build of the panel (hal_jupyter/labextension,
which `jlpm build` and pip's build write) before any installed copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from . import canaries
from .quantum_checks import BELL
from .server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"

needs_browser = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="Debian chromium is not installed (.ci/run installs it; CI never skips this test)",
)

def _launch(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--no-first-run"],
    )


def _this_checkouts_panel(root: Path) -> None:
    """The server's data dir comes first on JupyterLab's extension path: link this
    checkout's built panel there, so that an older installed copy is not the one tested."""
    built = ROOT / "hal_jupyter" / "labextension"
    if (built / "package.json").exists():
        (root / "data" / "labextensions").mkdir(parents=True, exist_ok=True)
        (root / "data" / "labextensions" / "hal-jupyter").symlink_to(built, target_is_directory=True)


@pytest.fixture
def lab(tmp_path):
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", tmp_path / "quickstart.ipynb")
    _this_checkouts_panel(tmp_path)
    server = ServerProcess(tmp_path, app="jupyterlab", db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.5)
    server.start(timeout=90)
    yield server
    server.stop()


@needs_browser
@pytest.mark.timeout(900)
@pytest.mark.shows(canaries.BROWSER_PAGE)
def test_quickstart_runs_in_jupyterlab_and_the_monitor_shows_a_completed_job_with_its_histogram(lab):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            # JupyterLab on this loaded 2-core machine now and then shows its
            # "Select Kernel" dialog instead of starting the notebook's kernel;
            # the whole scenario then runs again in a fresh page (3 tries at most).
            for attempt in range(3):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                try:
                    _check_quickstart(page, lab, expect)
                    break
                except Exception:
                    page.screenshot(path=str(ARTIFACTS / f"failure-{attempt + 1}.png"), full_page=True)
                    page.close()
                    if attempt == 2:
                        raise
        finally:
            browser.close()


def _accept_kernel_dialog(page) -> None:
    """If JupyterLab still asks which kernel to start, keep its default (the notebook's)."""
    dialog = page.locator("dialog.jp-Dialog")
    if dialog.count() and dialog.first.is_visible():
        dialog.first.locator("button.jp-mod-accept").first.click(timeout=5_000)
        page.wait_for_timeout(2_000)


def _run_all_cells(page, expect) -> None:
    """Kernel > Restart Kernel and Run All Cells: a fresh kernel runs every cell,
    whatever state JupyterLab's own kernel start-up left (at most 4 tries)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    first_prompt = page.locator(".jp-CodeCell .jp-InputArea-prompt").first
    for attempt in range(4):
        _accept_kernel_dialog(page)
        try:
            page.get_by_role("menuitem", name="Kernel", exact=True).click(timeout=5_000)
            page.get_by_role("menuitem", name="Restart Kernel and Run All Cells…").click(timeout=5_000)
            page.locator("dialog.jp-Dialog button.jp-mod-accept").first.click(timeout=10_000)  # "Restart"
            expect(first_prompt).not_to_have_text("[ ]:", timeout=20_000)
            return
        except (AssertionError, PlaywrightTimeout):
            page.keyboard.press("Escape")  # close a menu left open
            if attempt == 3:
                raise


def _check_quickstart(page, lab, expect) -> None:
    # Open JupyterLab first and the notebook once the kernel specs are known
    # (the launcher shows them); opened before that, JupyterLab may ask which
    # kernel to start instead of starting the notebook's own.
    # ``reset``: a fresh workspace on every try, with the launcher (JupyterLab
    # otherwise restores the notebook a failed try left open).
    page.goto(f"{lab.url}/lab?reset&token={lab.token}", timeout=60_000)
    expect(page.locator(".jp-LauncherCard", has_text="Python 3").first).to_be_visible(timeout=60_000)
    page.locator(".jp-DirListing-item", has_text="quickstart.ipynb").first.dblclick()
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
    canaries.record(canaries.BROWSER_PAGE, page.content())  # the rendered outputs and widgets, for the secrets sweep


BULK = 5_000  # jobs in the store before the panel opens: it must page and stay a short DOM
#: HalExtension.budgets of the crowded lab: one for everyone (its free jobs cost nothing), and one
#: that holds aws_lambda jobs (priced at most $0.0075 for 900 s; the stand-in credentials below
#: make the provider available, and a HELD job is never sent)
BUDGETS = [
    {"name": "team-month", "limit": 25, "period": "month", "action": "refuse"},
    {"name": "lambda-trial", "limit": 0.005, "period": "day", "action": "hold", "scope": {"provider": "aws_lambda"}},
]
NO_AWS = {"AWS_ACCESS_KEY_ID": "stand-in", "AWS_SECRET_ACCESS_KEY": "stand-in", "AWS_REGION": "us-east-1"}


@pytest.fixture
def crowded_lab(tmp_path):
    """JupyterLab whose store holds 5,000 QUEUED jobs (a long window: standard jobs wait;
    "high" jobs bypass the queue and complete at once)."""
    server = ServerProcess(
        tmp_path, app="jupyterlab", db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        batch_window_s=3600, batch_max_size=1_000_000, batch_strategy="time",
    )
    _this_checkouts_panel(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "jupyter_server_config.json").write_text(json.dumps({"HalExtension": {"budgets": BUDGETS}}))
    server.start(timeout=90, env=NO_AWS)
    for start in range(0, BULK, 500):
        # two groups (10 and 11 shots), each under local_simulator's largest batch (5,000): none flushes
        jobs = [{"provider": "local_simulator", "circuit": BELL, "shots": 10 + i % 2, "name": f"bulk-{i}", "tags": ["bulk"]} for i in range(start, start + 500)]
        status, _ = server.request("POST", "/hal/api/quantum/jobs", {"jobs": jobs})
        assert status == 201
    yield server
    server.stop()



@needs_browser
@pytest.mark.timeout(600)
@pytest.mark.shows(canaries.BROWSER_PAGE)
def test_the_hal_jobs_panel_shows_jobs_live_pages_5000_jobs_cancels_and_the_api_docs_try_it_out(crowded_lab):
    from playwright.sync_api import expect, sync_playwright

    lab = crowded_lab
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{lab.url}/lab?reset&token={lab.token}", timeout=60_000)
            tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="hal-jobs-panel"]')
            expect(tab).to_be_visible(timeout=60_000)
            tab.click()
            panel = page.locator("#hal-jobs-panel")
            expect(panel).to_be_visible()
            rows = panel.locator(".hal-job-row")
            # newest first, and only a screenful of the 5,000 jobs is in the DOM
            expect(rows.first).to_have_attribute("data-status", "QUEUED", timeout=60_000)
            expect(rows.first).to_contain_text("bulk-4999")
            assert rows.count() < 80
            expect(panel.locator(".hal-connection")).to_have_attribute("data-connection", "live", timeout=30_000)
            # providers, with their availability
            panel.locator(".hal-providers summary").click()
            expect(panel.locator('.hal-provider[data-provider="local_simulator"]')).to_have_class(re.compile("hal-available"))

            # scrolling pages through every job; the DOM stays a screenful
            jobs_list = panel.locator(".hal-jobs-list")
            footer = panel.locator(".hal-jobs-footer")
            for _ in range(60):
                jobs_list.evaluate("node => { node.scrollTop = node.scrollHeight; }")
                page.wait_for_timeout(150)
                if f"{BULK} jobs:" in footer.inner_text() and "bulk-0" in rows.last.inner_text():
                    break
            expect(footer).to_contain_text(f"{BULK} jobs: {BULK} queued")
            expect(rows.last).to_contain_text("bulk-0")
            assert rows.count() < 80
            jobs_list.evaluate("node => { node.scrollTop = 0; }")

            # jobs submitted over REST appear without a reload and turn COMPLETED live
            status, records = lab.request("POST", "/hal/api/quantum/jobs", {"jobs": [
                {"provider": "local_simulator", "circuit": BELL, "shots": 500, "priority": "high", "name": f"live-{i}", "tags": ["live"]}
                for i in range(3)
            ]})
            assert status == 201
            live_ids = [r["id"] for r in records["jobs"]]
            for job_id in live_ids:
                expect(panel.locator(f'.hal-job-row[data-job-id="{job_id}"]')).to_have_attribute("data-status", "COMPLETED", timeout=60_000)
            # each ended job of this session brings a notification
            expect(page.locator(".jp-toast-container, .Toastify").first).to_contain_text("completed", timeout=30_000)

            # a queued job submitted now appears, and its cancel control cancels it
            status, queued = lab.request("POST", "/hal/api/quantum/jobs", {"provider": "local_simulator", "circuit": BELL, "shots": 10, "name": "to-cancel"})
            assert status == 201
            row = panel.locator(f'.hal-job-row[data-job-id="{queued["id"]}"]')
            expect(row).to_have_attribute("data-status", "QUEUED", timeout=30_000)
            row.locator('[data-action="cancel"]').click()
            expect(row).to_have_attribute("data-status", "CANCELLED", timeout=30_000)
            expect(row.locator('[data-action="cancel"]')).to_have_count(0)
            assert lab.request("GET", f"/hal/api/jobs/{queued['id']}")[1]["status"] == "CANCELLED"

            # spend control: a job past a "hold" budget is HELD and its row says which budget;
            # rows show costs; the budgets that apply are summed up above the list
            status, held = lab.request("POST", "/hal/api/classical/jobs", {
                "provider": "aws_lambda", "function": "hal-demo", "timeout_s": 900, "name": "held-by-budget", "tags": ["live"]})
            assert status == 201 and held["status"] == "HELD", held
            held_row = panel.locator(f'.hal-job-row[data-job-id="{held["id"]}"]')
            expect(held_row).to_have_attribute("data-status", "HELD", timeout=30_000)
            expect(held_row.locator(".hal-held-reason")).to_contain_text("lambda-trial")
            expect(held_row.locator(".hal-job-cost")).to_have_text("est $0.0075")
            expect(panel.locator(f'.hal-job-row[data-job-id="{live_ids[0]}"] .hal-job-cost')).to_have_text("est $0.00 · actual $0.00")
            budgets = panel.locator(".hal-budget")
            expect(budgets).to_have_count(2)
            expect(panel.locator('.hal-budget[data-budget="lambda-trial"]')).to_contain_text("$0.00 spent + $0.00 reserved of $0.005")
            expect(panel.locator('.hal-budget[data-budget="team-month"]')).to_contain_text("$25.00 left")

            detail = panel.locator(".hal-job-detail")
            # rows are rebuilt on every update: a press and a release on two nodes of one row still open it
            pressed = panel.locator(f'.hal-job-row[data-job-id="{live_ids[1]}"]')
            pressed.hover()
            page.mouse.down()
            pressed.evaluate("node => node.setAttribute('data-before', '')")
            jobs_list.evaluate("node => node.dispatchEvent(new Event('scroll'))")
            expect(pressed).not_to_have_attribute("data-before", "")  # the row's node was replaced
            page.mouse.up()
            expect(detail).to_contain_text(live_ids[1])
            # the detail of a completed job: the record and a counts histogram
            panel.locator(f'.hal-job-row[data-job-id="{live_ids[0]}"]').click()
            expect(detail).to_contain_text(live_ids[0])
            histogram = detail.locator(".hal-histogram")
            expect(histogram).to_be_visible(timeout=30_000)
            outcomes = sorted(histogram.locator(".hal-bar").evaluate_all("bars => bars.map(b => b.dataset.outcome)"))
            assert outcomes == ["00", "11"], outcomes

            # filters: by status, then by tag
            panel.locator("select.hal-filter-status").select_option("COMPLETED")
            expect(rows).to_have_count(3, timeout=30_000)
            panel.locator("select.hal-filter-status").select_option("")
            panel.locator("input.hal-filter-tag").fill("live")
            expect(rows).to_have_count(4, timeout=30_000)  # the three completed and the HELD one
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "hal-jobs-panel.png"))
            panel.screenshot(path=str(ARTIFACTS / "hal-jobs-panel-only.png"))
            detail.locator('[data-action="close"]').click()
            expect(detail).to_be_hidden()
            panel.screenshot(path=str(ARTIFACTS / "hal-jobs-spend.png"))
            assert lab.token not in panel.inner_html()
            canaries.record(canaries.BROWSER_PAGE, page.content())

            # the interactive API docs: Swagger UI, and "try it out" on GET /hal/api/providers
            docs = context.new_page()  # the same login (JupyterLab's cookie), no token in the URL
            docs.on("pageerror", lambda error: errors.append(str(error)))
            docs.goto(f"{lab.url}/hal/api/docs", timeout=60_000)
            operation = docs.locator("#operations-default-get_hal_api_providers, .opblock-get", has_text="/hal/api/providers").first
            expect(operation).to_be_visible(timeout=60_000)
            operation.locator(".opblock-summary").first.click()
            operation.get_by_role("button", name="Try it out").click()
            operation.get_by_role("button", name="Execute").click()
            status_cell = operation.locator(".live-responses-table tbody .response-col_status").first
            expect(status_cell).to_contain_text("200", timeout=30_000)
            expect(operation.locator(".live-responses-table")).to_contain_text("local_simulator")
            docs.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
        finally:
            browser.close()
    assert not errors, errors
