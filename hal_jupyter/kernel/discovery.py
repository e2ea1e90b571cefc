"""Which Jupyter server started this kernel: where :class:`~hal_jupyter.Hal` looks
before it falls back to an engine of its own."""

from __future__ import annotations

import os


def find_server() -> tuple[str, str | None] | None:
    """The URL and token of the Jupyter server that started this kernel, if any.

    Checked in order: ``HAL_JUPYTER_URL`` (+ ``HAL_JUPYTER_TOKEN``); JupyterHub's
    single-user server (``JUPYTERHUB_SERVICE_URL`` + ``JUPYTERHUB_API_TOKEN``);
    the runtime file of the server whose process is this kernel's parent.
    """
    if os.environ.get("HAL_JUPYTER_URL"):
        return os.environ["HAL_JUPYTER_URL"], os.environ.get("HAL_JUPYTER_TOKEN")
    if os.environ.get("JUPYTERHUB_SERVICE_URL") and os.environ.get("JUPYTERHUB_API_TOKEN"):
        return os.environ["JUPYTERHUB_SERVICE_URL"], os.environ["JUPYTERHUB_API_TOKEN"]
    try:
        import psutil
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None
    ancestors = set()
    try:
        process = psutil.Process().parent()
        for _ in range(3):  # the server, or a nanny/provisioner between it and us
            if process is None:
                break
            ancestors.add(process.pid)
            process = process.parent()
    except psutil.Error:
        return None
    for info in list_running_servers():
        if info.get("pid") in ancestors:
            url = info["url"]
            if "://localhost" in url or "://0.0.0.0" in url or "://[::]" in url:
                url = f"http://127.0.0.1:{info['port']}{info.get('base_url', '/')}"
            return url, info.get("token") or None
    return None
