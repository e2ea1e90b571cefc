"""A paid device for the kernel's spend-control tests: the local simulator at 0.5 USD
a job, registered as ``priced_simulator`` through the entry-point group as a
third-party provider would be (an installed dist-info on ``sys.path``), so an
embedded engine or a server process loads it like any other."""

from __future__ import annotations

from pathlib import Path

from hal_jupyter.engine.contract import JobSpec
from hal_jupyter.engine.models import CostEstimate
from hal_jupyter.providers.local_simulator import LocalSimulatorProvider

PRICE = 0.5


class PricedSimulator(LocalSimulatorProvider):
    name = "priced_simulator"
    description = "the local simulator, priced as a paid device (tests)"

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        return CostEstimate(currency="USD", amount=PRICE, basis=f"test price: {PRICE} USD a job")


def install(folder: Path) -> Path:
    """A dist-info declaring the provider, in ``folder``; put ``folder`` on the path to use it."""
    dist = folder / "priced_provider_test-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: priced-provider-test\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[hal_jupyter.providers]\npriced_simulator = tests.priced_provider:PricedSimulator\n")
    return folder
