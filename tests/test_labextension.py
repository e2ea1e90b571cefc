"""The JupyterLab extension ("HAL Jobs" panel): its TypeScript view model's unit
tests (jest, through JupyterLab's jlpm), and what the wheel ships of it. The panel
in a browser is tests/test_browser.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "labextension"

needs_node = pytest.mark.skipif(
    shutil.which("node") is None and not os.environ.get("CI"),
    reason="Node.js is not installed (.ci/run installs it; CI never skips this test)",
)


def _jlpm(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["jlpm", *args], cwd=SOURCE, capture_output=True, text=True, timeout=timeout)


@needs_node
@pytest.mark.timeout(400)
def test_the_view_models_unit_tests_pass_under_jest():
    if not (SOURCE / "node_modules" / ".bin" / "jest").exists():  # pip's build installed them; else now
        installed = _jlpm("install", timeout=300)
        assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    run = _jlpm("jest", "--ci", timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-5000:]
    passed = re.search(r"Tests:\s+(\d+) passed, (\d+) total", report)
    assert passed and passed.group(1) == passed.group(2) and int(passed.group(1)) >= 100, report[-2000:]


def test_the_extensions_names_agree():
    """The npm package, the folder JupyterLab loads it from, and the Python package's paths."""
    package = json.loads((SOURCE / "package.json").read_text())
    assert package["name"] == "hal-jupyter" and package["jupyterlab"]["outputDir"] == "../hal_jupyter/labextension"
    from hal_jupyter import _jupyter_labextension_paths

    assert _jupyter_labextension_paths() == [{"src": "labextension", "dest": "hal-jupyter"}]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"hal_jupyter/labextension" = "share/jupyter/labextensions/hal-jupyter"' in pyproject
    assert json.loads((SOURCE / "install.json").read_text())["packageName"] == "hal-jupyter"


def test_jupyterlab_lists_the_panel_as_enabled():
    out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True, timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(r"hal-jupyter v0\.1\.0 enabled\s+OK", text), text


@needs_node
@pytest.mark.timeout(400)
def test_the_wheel_ships_the_prebuilt_panel_and_the_api_docs_assets(tmp_path):
    """What ``pip install .`` installs: JupyterLab's prebuilt extension under
    share/jupyter/labextensions/hal-jupyter, and Swagger UI's files for /hal/api/docs."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=380,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = tmp_path.glob("hal_jupyter-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    share = "hal_jupyter-0.1.0.data/data/share/jupyter/labextensions/hal-jupyter/"
    assert {share + "package.json", share + "install.json", share + "static/style.js"} <= names
    assert any(re.fullmatch(re.escape(share) + r"static/remoteEntry\.[0-9a-f]+\.js", n) for n in names)
    assert "hal_jupyter-0.1.0.data/data/etc/jupyter/jupyter_server_config.d/hal_jupyter.json" in names
    assert {"hal_jupyter/server/apidocs/swagger-ui-bundle.js", "hal_jupyter/server/apidocs/swagger-ui.css",
            "hal_jupyter/server/apidocs/LICENSE", "hal_jupyter/server/apidocs_init.js"} <= names
    # the TypeScript sources and node_modules stay out of the wheel, and the bundle is in it once
    assert not any(n.startswith(("labextension/", "node_modules/", "hal_jupyter/labextension/")) or "/node_modules/" in n for n in names)
    shipped = json.loads(zipfile.ZipFile(wheel).read(share + "package.json"))
    assert shipped["name"] == "hal-jupyter" and shipped["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
