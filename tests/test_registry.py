"""Providers come from the entry-point group, third-party ones like the built-ins."""

from __future__ import annotations

import sys
import textwrap

import pytest

from hal_jupyter.engine.errors import ProviderNotFound, ProviderUnavailable
from hal_jupyter.engine.registry import Registry


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """An installed distribution (a dist-info on sys.path) declaring two providers."""
    (tmp_path / "acme_provider.py").write_text(
        textwrap.dedent(
            '''
            from hal_jupyter.engine.contract import Availability, Provider
            from hal_jupyter.engine.models import BackendInfo

            class AcmeProvider(Provider):
                name = "acme"
                kind = "quantum"
                description = "Acme QPU"
                def availability(self):
                    return Availability(False, "set ACME_TOKEN")
                def backends(self):
                    return [BackendInfo(name="acme-1", num_qubits=5)]
                def submit(self, batch): raise NotImplementedError
                def poll(self, batch, remote_ids): return {}
                def cancel(self, batch, remote_ids, job_ids): pass
            '''
        )
    )
    (tmp_path / "broken_provider.py").write_text("import acme_sdk_that_is_not_installed\n")
    dist = tmp_path / "acme_hal-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-hal\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[hal_jupyter.providers]\nacme = acme_provider:AcmeProvider\nbroken = broken_provider:BrokenProvider\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("acme_provider", None)


def test_third_party_providers_are_listed_with_their_availability(plugin_dist):
    registry = Registry()
    info = {p.name: p for p in registry.info()}
    assert {"acme", "broken", "local_simulator", "local_python"} <= set(info)
    assert info["acme"].available is False and info["acme"].reason == "set ACME_TOKEN"
    assert info["broken"].available is False and "acme_sdk_that_is_not_installed" in info["broken"].reason
    with pytest.raises(ProviderUnavailable, match="ACME_TOKEN"):
        registry.require("acme")
    with pytest.raises(ProviderUnavailable):
        registry.get("broken")


def test_allowed_and_blocked_filters(plugin_dist):
    registry = Registry(allowed=["local_simulator", "acme"], blocked=["acme"])
    assert registry.names() == ["local_simulator"]
    with pytest.raises(ProviderNotFound):
        registry.get("local_python")
    with pytest.raises(ProviderNotFound):
        registry.get("acme")
