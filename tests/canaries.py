"""The secrets sweep: canary credentials in, everything the session shows out.

A pytest plugin (registered from ``tests/conftest.py``). For the whole test
session it

- puts canary values in the environment for secret variables that no test sets
  (``ENVIRONMENT``); the stand-ins' own credentials (``credentials.SECRETS``)
  are canaries too, handed to the providers by the tests and notebooks;
- keeps what the session shows to the outside world, by source (``EVIDENCE``):
  every log record (INFO and up of every logger; DEBUG of the HAL's and of the
  libraries that carry credentials for it, ``SWEPT_LOGGERS``), HTTP response bodies (``jp_fetch``/``jp_ws_fetch`` in
  ``conftest.py``, ``ServerProcess.request``), the logs of every ``jupyter
  server`` process, the outputs of the notebooks run by nbval, and widget
  state (the comm messages of every ipywidget, in this process and in the
  notebooks' kernels; the rendered page of the browser test);
- runs the test marked ``sweep`` (``tests/test_secrets.py``) last, after the
  notebooks, so it searches all of that for the canaries.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import comm
import pytest
from nbval.plugin import IPyNbCell

from hal_jupyter.offline import credentials

#: Canaries for secret variables that providers (or the SDKs under them) read
#: from the environment but that no test sets. Each is chosen so that it changes
#: nothing: which providers are available, and how, stays the same.
ENVIRONMENT = {
    # azure-identity's EnvironmentCredential (azure_quantum without an API key);
    # unused without AZURE_TENANT_ID and AZURE_CLIENT_ID.
    "AZURE_CLIENT_SECRET": "hal-canary-azure-client-secret-0d5e7b",
    # the kernel client's JupyterHub discovery; unused without JUPYTERHUB_SERVICE_URL.
    "JUPYTERHUB_API_TOKEN": "hal-canary-jupyterhub-token-8f2a61",
}
# Not AWS_SESSION_TOKEN: boto3 would send it with the tests' AWS keys, and
# botocore itself writes it to its DEBUG log (the canonical request it signs),
# which this sweep reads.

#: Credentials that fail: the stand-ins refuse them. The sweep's own run (``tests/test_secrets.py``) hands them
#: to the providers, so their error paths carry a canary too.
FAILING = {
    "AZURE_FUNCTIONS_KEY": "hal-canary-refused-azfunc-key-47d1",
    "IBM_CLOUD_API_KEY": "hal-canary-refused-ibm-apikey-c93e",
    "AZURE_QUANTUM_API_KEY": "hal-canary-refused-azq-apikey-2b88",
    "QISKIT_IBM_TOKEN": "hal-canary-qiskit-ibm-token-e615",
}

#: every canary, by the variable that carries it
CANARIES = {
    "AWS_SECRET_ACCESS_KEY": credentials.AWS_SECRET_ACCESS_KEY,
    "IBM_CLOUD_API_KEY": credentials.IBM_CLOUD_API_KEY,
    "AZURE_FUNCTIONS_KEY": credentials.AZURE_FUNCTIONS_KEY,
    "AZURE_QUANTUM_API_KEY": credentials.AZURE_QUANTUM_API_KEY,
    **ENVIRONMENT,
    **{f"{name} (failing)": value for name, value in FAILING.items()},
}
assert set(credentials.SECRETS) <= set(CANARIES.values()), "a secret of hal_jupyter/offline/credentials.py is not a canary"

LOGS, HTTP, SERVER_LOGS, NOTEBOOK_OUTPUTS, WIDGET_STATE, BROWSER_PAGE = (
    "logs", "HTTP bodies", "server logs", "notebook outputs", "widget state", "browser page",
)
#: at least this many records of each source once ``tests/test_secrets.py`` ran its jobs
#: (what its own run shows; the whole suite shows far more)
AT_LEAST = {LOGS: 20, HTTP: 50, SERVER_LOGS: 1, WIDGET_STATE: 100}
#: where each process of the session writes what its sweep found
REPORTS = "HAL_EVIDENCE_DIR"


def as_text(value: Any) -> str:
    """Bytes, text or JSON-like data as the text a reader would search."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


class Evidence:
    """What the session has shown, by source; records only while a session runs
    (``ServerProcess`` also serves the benchmarks, outside pytest)."""

    def __init__(self) -> None:
        self.active = False
        self.texts: dict[str, list[str]] = defaultdict(list)
        self.server_logs: set[Path] = set()
        #: sources a passed test promised to have shown (``@pytest.mark.shows``; nbval cells)
        self.expected: set[str] = set()
        #: tests/test_secrets.py ran its jobs with canary credentials in this process
        self.canary_jobs = False
        #: what the sweep searched and found, for the session's terminal summary
        self.summary = ""
        self.failure = ""

    def record(self, source: str, value: Any) -> None:
        if self.active and value:
            self.texts[source].append(as_text(value))

    def add_server_log(self, path: Path) -> None:
        """A server's log, read by the sweep (it keeps growing until then)."""
        if self.active:
            self.server_logs.add(path)

    def read_server_logs(self) -> None:
        """Read the logs of every server started (they stay in the session's tmp_path)."""
        for path in sorted(self.server_logs):
            self.record(SERVER_LOGS, path.read_bytes())
        self.server_logs.clear()

    def counts(self) -> Counter[str]:
        return Counter({source: len(texts) for source, texts in self.texts.items()})

    def size(self) -> int:
        """Characters kept, all sources."""
        return sum(len(text) for texts in self.texts.values() for text in texts)

    def leaks(self) -> Iterator[str]:
        """One line per canary found: where, and the text around it."""
        for source, texts in self.texts.items():
            yield from find_canaries(source, texts)


def find_canaries(where: str, texts: Iterable[Any]) -> Iterator[str]:
    """One line per canary found in ``texts`` (see ``as_text``)."""
    joined = "\n\0".join(map(as_text, texts))
    for name, canary in CANARIES.items():
        at = joined.find(canary)
        if at >= 0:
            context = joined[max(0, at - 200): at + len(canary) + 100].replace("\0", "")
            yield f"{name} ({canary}) in {where}: ...{context}..."


EVIDENCE = Evidence()
record = EVIDENCE.record


class _RecordingComm(comm.DummyComm):
    """The comm ipywidgets gets outside a kernel (no front end), keeping every
    message a widget sends: its whole state when opened, then each update."""

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any) -> None:
        record(WIDGET_STATE, data)


def _record_log(factory: Any) -> Any:
    """A log record factory that keeps every record's text. A factory, not a
    handler: ``hal_jupyter``'s logger stops propagating once a server extension
    configured it, so a handler on the root logger would miss it."""

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        log_record = factory(*args, **kwargs)
        try:
            text = log_record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the logger's problem, not ours
            text = f"{log_record.msg!r} % {log_record.args!r}"
        if log_record.exc_info:
            text += "\n" + logging.Formatter().formatException(log_record.exc_info)
        record(LOGS, f"{log_record.name} {log_record.levelname}: {text}")
        return log_record

    return make


def _record_kernel_comms(notebook: Any) -> None:
    """Widget state in a notebook's kernel travels as comm messages on iopub,
    which nbval reads (through this method) and drops; keep them."""
    read = notebook.get_kernel_message

    def get_kernel_message(*args: Any, **kwargs: Any) -> dict[str, Any]:
        message = read(*args, **kwargs)
        if message["msg_type"].startswith("comm"):
            record(WIDGET_STATE, message["content"].get("data"))
        return message

    notebook.get_kernel_message = get_kernel_message


_undo: list[Callable[[], Any]] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shows(source): once passed, the test has shown this source to the secrets sweep")
    if not hasattr(config, "workerinput") and REPORTS not in os.environ:  # the main process; workers inherit it
        os.environ[REPORTS] = tempfile.mkdtemp(prefix="hal-evidence-")


#: The loggers the sweep captures at DEBUG: the HAL's own, and those of the libraries that
#: carry credentials for it (the HTTP clients under the SDKs, the SDKs' credential and
#: request code). Every other logger keeps its level: their records at DEBUG cost the whole
#: suite time and memory, and the HAL never hands them a credential.
SWEPT_LOGGERS = (
    "hal_jupyter", "urllib3", "requests_oauthlib", "botocore.credentials", "botocore.auth", "botocore.endpoint",
    "boto3", "braket", "azure", "msal", "qiskit_ibm_runtime", "tornado", "ServerApp", "HalExtension",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    root, ibm_sdk, factory = logging.getLogger(), logging.getLogger("ibm-cloud-sdk-core"), logging.getLogRecordFactory()
    swept = [logging.getLogger(name) for name in SWEPT_LOGGERS]
    _undo.extend([
        partial(root.setLevel, root.level), partial(ibm_sdk.setLevel, ibm_sdk.level),
        *(partial(logger.setLevel, logger.level) for logger in swept),
        partial(logging.setLogRecordFactory, factory), partial(setattr, comm, "create_comm", comm.create_comm),
    ])
    _keep_pytest_log_capture_as_it_was(session.config, root.level)
    root.setLevel(min(root.level, logging.INFO))  # every library's INFO and up is made, whatever the handlers keep
    for logger in swept:
        logger.setLevel(logging.DEBUG)
    # ...but ibm-cloud-sdk-core's: at DEBUG it turns on http.client's debug
    # output for the whole process, through a print replacement that fails on
    # http.client's own arguments (then every other HTTP client breaks).
    ibm_sdk.setLevel(logging.INFO)
    logging.setLogRecordFactory(_record_log(factory))
    comm.create_comm = _RecordingComm  # comm's documented hook (ipykernel sets its own)
    EVIDENCE.active = True


def _keep_pytest_log_capture_as_it_was(config: pytest.Config, level: int) -> None:
    """pytest's log handlers without a level of their own (no ``--log-level``)
    relied on the root logger's: keep them there, so a failing test's report and
    the live log don't fill with the DEBUG records made for the sweep."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    for name in ("caplog_handler", "report_handler", "log_file_handler", "log_cli_handler"):
        handler = getattr(plugin, name, None)
        if isinstance(handler, logging.Handler) and handler.level == logging.NOTSET:
            handler.setLevel(level)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Each process sweeps what it kept; the main process (once every xdist worker is
    done) puts the reports together and fails the session on a leak."""
    EVIDENCE.read_server_logs()
    EVIDENCE.active = False
    config = session.config
    folder = Path(os.environ[REPORTS])
    name = config.workerinput["workerid"] if hasattr(config, "workerinput") else "main"
    folders = [Path(os.environ["JUPYTER_DATA_DIR"])] if "JUPYTER_DATA_DIR" in os.environ else []
    if not hasattr(config, "workerinput"):  # the session's temporary folders: the workers' are in it too
        folders.append(config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    report = sweep(EVIDENCE, folders)
    (folder / f"{name}.json").write_text(json.dumps(report))
    while _undo:
        _undo.pop()()
    if not hasattr(config, "workerinput"):
        reports = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
        shutil.rmtree(folder, ignore_errors=True)
        EVIDENCE.summary, EVIDENCE.failure = judge(reports)
        if EVIDENCE.failure and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def sweep(evidence: Evidence, folders: list[Path]) -> dict[str, Any]:
    """What one process's sweep found: canaries in what it kept and in the files it wrote."""
    files = [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file() and p.name != ".env"]
    leaks = [*evidence.leaks(), *_leaks_in_files(files)]
    return {
        "leaks": leaks, "counts": dict(evidence.counts()), "expected": sorted(evidence.expected),
        "canary_jobs": evidence.canary_jobs, "size": evidence.size(), "files": len(files),
    }


def _leaks_in_files(files: list[Path]) -> Iterator[str]:
    """Canaries in files the session wrote (``.env`` files hold credentials by design: the HAL
    reads them, and the tests write them as ``hal-jupyter offline --env-file`` does for a user)."""
    for path in files:
        try:
            content = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, PermissionError):  # gone since listed: a SQLite -wal file
            continue
        yield from find_canaries(str(path), [content])


def judge(reports: list[dict[str, Any]]) -> tuple[str, str]:
    """The session's summary and, if it failed, why: a canary found, or (when the canary
    jobs ran) sources with fewer records than they must have."""
    counts: Counter[str] = Counter()
    for report in reports:
        counts.update(report["counts"])
    size = sum(report["size"] for report in reports)
    files = sum(report["files"] for report in reports)
    summary = f"searched {dict(counts)} ({size / 1e6:.1f} MB) and {files} session files for {len(CANARIES)} canaries, in {len(reports)} process(es)"
    leaks = [leak for report in reports for leak in report["leaks"]]
    if leaks:
        return summary, "credentials leaked:\n" + "\n".join(leaks)
    if any(report["canary_jobs"] for report in reports):
        expected = {source: 1 for report in reports for source in report["expected"]} | AT_LEAST
        too_few = {source: counts[source] for source, least in expected.items() if counts[source] < least}
        if too_few:
            return summary, f"the sweep would pass on (almost) nothing: {too_few} (at least {expected})"
        if not files:
            return summary, "no file written during the session"
    return summary, ""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for notebook in {item.parent for item in items if isinstance(item, IPyNbCell)}:
        _record_kernel_comms(notebook)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if call.when == "call" and isinstance(item, IPyNbCell):
        record(NOTEBOOK_OUTPUTS, item.test_outputs)
    if call.when == "call" and report.passed:
        if isinstance(item, IPyNbCell):
            EVIDENCE.expected.add(NOTEBOOK_OUTPUTS)
        for mark in item.iter_markers("shows"):
            EVIDENCE.expected.update(mark.args)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if EVIDENCE.summary:
        terminalreporter.write_line(f"secrets sweep: {EVIDENCE.summary}")
    if EVIDENCE.failure:
        terminalreporter.write_sep("=", "secrets sweep FAILED", red=True)
        terminalreporter.write_line(EVIDENCE.failure)
