"""Real processes of the HAL on 127.0.0.1, for whatever must run them as a user
does or kill them as a crash does (tests, benchmarks, demos): a ``jupyter
server`` with the extension (:class:`ServerProcess`) and ``hal-jupyter worker``
(:class:`WorkerProcess`).

``watch_log`` and ``watch_body`` are hooks: the tests' subclasses hand every
log file and HTTP answer to their credential-leak sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .http import free_port


#: server extensions a Jupyter installation commonly enables beside the HAL
OTHER_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "jupyter_server_terminals", "notebook_shim", "nbclassic", "notebook")


class ServerProcess:
    """``jupyter server`` on 127.0.0.1 with its own config, data and runtime dirs."""

    #: load the HAL's extension alone (True: a start costs about half the CPU); the
    #: JupyterLab app (``app="jupyterlab"``) always loads everything installed
    only_hal = False

    def watch_log(self, path: Path) -> None:
        """Called with the log file before the process starts writing it."""

    def watch_body(self, raw: bytes) -> None:
        """Called with every HTTP answer's body."""

    def __init__(self, root: Path, token: str = "test-token", app: str = "jupyter_server", **traits: Any) -> None:
        self.root = root
        self.app = app  # "jupyter_server", or "jupyterlab" for the browser test
        self.token = token
        self.traits = traits
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, env: dict[str, str] | None = None, **traits: Any) -> ServerProcess:
        """Start (again) and wait until it answers; ``env`` adds variables for this start only."""
        return self.launch(env, **traits).ready(timeout)

    def launch(self, env: dict[str, str] | None = None, **traits: Any) -> ServerProcess:
        """Start the process without waiting for it (:meth:`ready` waits): servers
        launched together start side by side."""
        self.traits.update(traits)
        env = {**os.environ, **(env or {})}
        for name in ("config", "data", "runtime"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.root / "config"),
            JUPYTER_DATA_DIR=str(self.root / "data"),
            JUPYTER_RUNTIME_DIR=str(self.root / "runtime"),
        )
        args = [
            sys.executable, "-m", self.app,
            f"--ServerApp.port={self.port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.open_browser=False",
            f"--IdentityProvider.token={self.token}", "--ServerApp.allow_unauthenticated_access=False",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.jpserver_extensions=hal_jupyter=True",
        ]
        if self.app == "jupyter_server" and self.only_hal:  # no JupyterLab, LSP or terminals to load
            args += [f"--ServerApp.jpserver_extensions={name}=False" for name in OTHER_EXTENSIONS]
        if self.app == "jupyterlab":  # offline: no news, no update checks
            args += ["--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:
            args.append("--allow-root")
        args += [f"--HalExtension.{k}={v}" for k, v in self.traits.items()]
        log = open(self.log_path, "ab")
        self.watch_log(self.log_path)
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=env, cwd=self.root)
        return self

    def ready(self, timeout: float = 60.0) -> ServerProcess:
        """Wait until the launched server answers (its job store may still be down: 503)."""
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if self.request("GET", "/hal/api/scheduler")[0] in (200, 503):  # 503: up, its job store is not
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the server did not answer in {timeout} s")

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        self.watch_body(raw)
        return status, json.loads(raw or b"null")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def wait_all(self, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Poll until every job is terminal; returns the records (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        pending = set(ids)
        records: dict[str, dict[str, Any]] = {}
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                code, record = self.request("GET", f"/hal/api/jobs/{job_id}")
                if code == 200 and record["status"] in ("COMPLETED", "FAILED", "CANCELLED", "UNKNOWN"):
                    records[job_id] = record
                    pending.discard(job_id)
            if pending:
                time.sleep(0.25)
        if pending:
            raise AssertionError(f"{len(pending)} job(s) unfinished after {timeout} s")
        return records


class WorkerProcess:
    """``python -m hal_jupyter.worker`` on a shared job store."""

    def watch_log(self, path: Path) -> None:
        """Called with the log file before the process starts writing it."""

    def __init__(self, root: Path, db_url: str, **options: Any) -> None:
        self.root = root
        self.db_url = db_url
        self.options = {"env-file": "", "lease-s": 3, "batch-window-s": 0.5, **options}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "worker.log"

    def start(self, env: dict[str, str] | None = None) -> WorkerProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "hal_jupyter.worker", "--db-url", self.db_url]
        args += [f"--{k}={v}" for k, v in self.options.items()]
        log = open(self.log_path, "ab")
        self.watch_log(self.log_path)
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env={**os.environ, **(env or {})}, cwd=self.root)
        return self

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_path.exists() and text in self.log_path.read_text():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"the worker never logged {text!r}: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> int | None:
        """SIGTERM (the worker releases its leases), then wait; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def wait_records(server: ServerProcess, ids: list[str], timeout: float, done: tuple[str, ...] = ("COMPLETED", "FAILED", "CANCELLED", "UNKNOWN")) -> dict[str, dict[str, Any]]:
    """Poll in bulk (500 ids a request) until every job is in ``done``; the records."""
    deadline = time.monotonic() + timeout
    records: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            status, listing = server.request("GET", "/hal/api/jobs?limit=500&ids=" + ",".join(chunk))
            if status == 200:
                records.update((r["id"], r) for r in listing["jobs"])
        if len(records) == len(ids) and all(r["status"] in done for r in records.values()):
            return records
        time.sleep(0.25)
    unfinished = [r["status"] for r in records.values() if r["status"] not in done]
    raise AssertionError(f"{len(unfinished) + len(ids) - len(records)} job(s) unfinished after {timeout} s: {unfinished[:5]}")
