"""How the HAL Jobs panel copes with a big store, against the REST API alone.

    python benchmarks/bench_panel.py [--jobs 5000]

A real JupyterLab with hal_jupyter, a store of 5,000 QUEUED jobs, and headless
Debian chromium (Playwright). It prints, each with the same work done by plain
REST requests from Python in the same run as the baseline:

- first rows: from the click on the panel's tab to its first row on screen,
  against one ``GET /hal/api/jobs?limit=200`` (the panel's first page);
- every job: scrolling until all jobs are loaded, against fetching them all in
  pages of 200;
- a live job: from a high-priority job's submission to its row showing
  COMPLETED (over the events socket), against polling its record every 50 ms;
- the rows in the page's DOM (a virtual list: a screenful, not 5,000).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import urllib.parse
from pathlib import Path

from hal_jupyter.offline.processes import ServerProcess

BELL = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; h q[0]; cx q[0], q[1]; measure q -> c;'
CHROMIUM = "/usr/bin/chromium"
PAGE = 200  # the panel's page size (labextension/src/jobs.ts)


def fill(server: ServerProcess, n: int) -> None:
    for start in range(0, n, 500):
        count = min(500, n - start)
        # two groups (10 and 11 shots), each under the simulator's largest batch: nothing flushes
        jobs = [{"provider": "local_simulator", "circuit": BELL, "shots": 10 + i % 2, "name": f"bulk-{i}"} for i in range(start, start + count)]
        assert server.request("POST", "/hal/api/quantum/jobs", {"jobs": jobs})[0] == 201


def rest_first_page(server: ServerProcess) -> float:
    began = time.perf_counter()
    assert server.request("GET", f"/hal/api/jobs?limit={PAGE}")[0] == 200
    return time.perf_counter() - began


def rest_all_pages(server: ServerProcess) -> tuple[float, int]:
    began, cursor, seen = time.perf_counter(), None, 0
    while True:
        query = f"limit={PAGE}" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        status, page = server.request("GET", f"/hal/api/jobs?{query}")
        assert status == 200
        seen += len(page["jobs"])
        cursor = page["next_cursor"]
        if not cursor:
            return time.perf_counter() - began, seen


def rest_live_job(server: ServerProcess) -> float:
    began = time.perf_counter()
    _, record = server.request("POST", "/hal/api/quantum/jobs", {"provider": "local_simulator", "circuit": BELL, "shots": 100, "priority": "high"})
    while server.request("GET", f"/hal/api/jobs/{record['id']}")[1]["status"] != "COMPLETED":
        time.sleep(0.05)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = ServerProcess(root, app="jupyterlab", db_url=f"sqlite:///{root / 'jobs.sqlite'}", batch_window_s=3600, batch_max_size=1_000_000, batch_strategy="time")
        server.start(timeout=120)
        try:
            fill(server, args.jobs)
            rest_first = rest_first_page(server)
            rest_all, seen = rest_all_pages(server)
            assert seen == args.jobs, seen
            rest_live = rest_live_job(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"])
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(f"{server.url}/lab?reset&token={server.token}", timeout=120_000)
                tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="hal-jobs-panel"]')
                expect(tab).to_be_visible(timeout=120_000)
                panel = page.locator("#hal-jobs-panel")
                rows, footer, scroller = panel.locator(".hal-job-row"), panel.locator(".hal-jobs-footer"), panel.locator(".hal-jobs-list")
                began = time.perf_counter()
                tab.click()
                expect(rows.first).to_be_visible(timeout=60_000)
                panel_first = time.perf_counter() - began
                began = time.perf_counter()
                total = args.jobs + 1
                while f"{total} jobs:" not in footer.inner_text():
                    scroller.evaluate("node => { node.scrollTop = node.scrollHeight; }")
                    page.wait_for_timeout(20)
                    if time.perf_counter() - began > 300:
                        raise TimeoutError(footer.inner_text())
                panel_all = time.perf_counter() - began
                dom_rows = rows.count()
                scroller.evaluate("node => { node.scrollTop = 0; }")
                began = time.perf_counter()
                _, record = server.request("POST", "/hal/api/quantum/jobs", {"provider": "local_simulator", "circuit": BELL, "shots": 100, "priority": "high"})
                expect(panel.locator(f'.hal-job-row[data-job-id="{record["id"]}"]')).to_have_attribute("data-status", "COMPLETED", timeout=60_000)
                panel_live = time.perf_counter() - began
                browser.close()
        finally:
            server.stop()
    print(f"HAL Jobs panel on {args.jobs} jobs (JupyterLab, headless chromium), against plain REST from Python")
    print(f"  first rows:  panel {panel_first * 1000:7.0f} ms   REST first page {rest_first * 1000:6.0f} ms   ratio {panel_first / rest_first:5.1f}")
    print(f"  every job:   panel {panel_all * 1000:7.0f} ms   REST all pages  {rest_all * 1000:6.0f} ms   ratio {panel_all / rest_all:5.1f}")
    print(f"  a live job:  panel {panel_live * 1000:7.0f} ms   REST polling    {rest_live * 1000:6.0f} ms   ratio {panel_live / rest_live:5.1f}")
    print(f"  rows in the DOM with all {total} jobs loaded: {dom_rows}")


if __name__ == "__main__":
    main()
