"""Installation and the README: what a new user runs first."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from hal_jupyter.server.app import HalExtension

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _quickstart_commands() -> list[str]:
    block = README.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_jupyter_lists_the_extension_as_enabled():
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"], capture_output=True, text=True, timeout=120
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(r"hal_jupyter\s+enabled", text), text
    assert re.search(r"hal_jupyter 0\.1\.0 OK", text), text


def test_the_shipped_config_enables_the_extension():
    config = json.loads((ROOT / "server_extension/jupyter_server_config.d/hal_jupyter.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"hal_jupyter": True}}}
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"server_extension/jupyter_server_config.d" = "etc/jupyter/jupyter_server_config.d"' in pyproject


def test_builtin_providers_are_entry_points():
    names = {ep.name for ep in entry_points(group="hal_jupyter.providers")}
    assert {"local_simulator", "local_python"} <= names


def test_ci_runs_exactly_the_readme_test_command():
    install_and_run, test_command = _quickstart_commands()
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci[-1] == test_command
    assert install_and_run == "pip install . && python -m hal_jupyter.demo"


def test_the_main_job_runs_and_shows_real_results():
    out = subprocess.run([sys.executable, "-m", "hal_jupyter.demo"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    bell = re.findall(r"bell-qasm[23]: \{'00': (\d+), '11': (\d+)\}", out.stdout)
    assert len(bell) == 2 and all(int(a) + int(b) == 1024 for a, b in bell), out.stdout
    assert "main(1, 2) = 3" in out.stdout
    assert "FAILED: ValueError: bad" in out.stdout and "FAILED: Timeout" in out.stdout


def test_readme_documents_every_trait_with_its_default():
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", README.split("## Configuration", 1)[1], re.M))
    traits = HalExtension.class_traits(config=True)
    own = {name for name, trait in traits.items() if trait.this_class is HalExtension}
    assert own == set(rows), own ^ set(rows)
    for name in own:
        assert traits[name].help, f"{name} has no help text"
        default = traits[name].default_value
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            assert rows[name].strip(" `") == str(default), name
