"""hal_jupyter: run quantum and classical jobs on any provider from Jupyter.

The package has three layers:

- ``hal_jupyter.engine``: models, job store, scheduler, provider registry;
- ``hal_jupyter.providers``: one module per backend family;
- ``hal_jupyter.server``: the Jupyter server extension (REST + events);
- ``hal_jupyter.kernel``: the notebook side (``Hal`` client, ``%hal`` magics, monitor widget).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import HalExtension

    return [{"module": "hal_jupyter", "app": HalExtension}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (the "HAL Jobs" panel), for ``jupyter labextension develop``;
    an installed wheel puts it in ``share/jupyter/labextensions/hal-jupyter``."""
    return [{"src": "labextension", "dest": "hal-jupyter"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext hal_jupyter``: registers ``%hal`` and ``%%hal``."""
    from .kernel.magics import HalMagics

    ipython.register_magics(HalMagics)


def __getattr__(name: str) -> Any:
    if name in ("Hal", "Job", "JobFailed"):
        from .kernel import client

        return getattr(client, name)
    raise AttributeError(name)
