"""The ``hal-jupyter`` command and ``python -m hal_jupyter.worker``: what a user types."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60)


def test_the_console_script_is_declared():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "hal-jupyter"]
    assert script.value == "hal_jupyter.cli:main"


def test_help_names_every_option_and_a_missing_url_is_one_line_not_a_traceback():
    shown = _run("-m", "hal_jupyter.worker", "--help")
    assert shown.returncode == 0
    for option in ("--db-url", "--env-file", "--lease-s", "--batch-window-s", "--allowed-providers"):
        assert option in shown.stdout
    missing = _run("-m", "hal_jupyter.cli", "worker")
    assert missing.returncode == 2 and "--db-url" in missing.stderr and "Traceback" not in missing.stderr
    unknown = _run("-m", "hal_jupyter.cli", "frobnicate")
    assert unknown.returncode == 2 and "worker" in unknown.stderr


def test_an_unreachable_store_is_a_clear_error(tmp_path):
    bad = _run("-m", "hal_jupyter.worker", "--db-url", "postgresql+psycopg://nobody:pw@127.0.0.1:1/none", "--env-file", "")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "pw@" not in bad.stderr  # the password is not printed
    assert "hal-jupyter worker:" in bad.stderr
