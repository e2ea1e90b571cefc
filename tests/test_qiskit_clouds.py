"""hal_jupyter.qiskit on the cloud quantum providers, through their real SDKs
against the offline stand-ins (``hal_jupyter.offline``): IBM Quantum's Runtime
(noisy fake_manila), Braket's local simulator and SV1, Azure Quantum's
Quantinuum and IonQ. The HAL's primitives are compared with Qiskit's exact
reference primitives within noise bounds; the PUBs of one run are one provider
call. (VQE on the IBM and Braket stand-ins: notebooks/qiskit_primitives.ipynb,
which nbval runs, asserts each within 0.05 of the exact ground energy.)"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("qiskit_ibm_runtime")
pytest.importorskip("braket.devices")
pytest.importorskip("azure.quantum")

from hal_jupyter import Hal  # noqa: E402
from hal_jupyter.offline.braket import SV1  # noqa: E402
from hal_jupyter.offline.stack import OfflineClouds  # noqa: E402
from hal_jupyter.qiskit import HalEstimator, HalProvider, HalSampler  # noqa: E402

from . import qiskit_checks as checks  # noqa: E402


@pytest.fixture(scope="module")
def clouds():
    stand_ins = OfflineClouds(only=("aws_braket", "azure_quantum", "ibm_quantum")).start()
    saved = {name: os.environ.get(name) for name in stand_ins.env}
    os.environ.update(stand_ins.env)
    yield stand_ins
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    stand_ins.stop()


@pytest.fixture(scope="module")
def provider(clouds, tmp_path_factory):
    hal = Hal(embedded=True, db_url=f"sqlite:///{tmp_path_factory.mktemp('clouds') / 'jobs.sqlite'}", batch_window_s=0.05, env_file="")
    yield HalProvider(hal)
    hal.close()


def _one_call(clouds, hal: Hal, provider_name: str, run) -> list[str]:
    """Run ``run`` (it returns the HAL job ids) and check that its PUBs went to the provider as ONE call."""
    world = clouds.worlds[provider_name]
    before = len(world.creates)
    ids = run()
    assert len(world.creates) == before + 1, world.creates[before:]
    assert len(checks.batch_ids(hal, ids)) == 1
    return ids


def test_ibm_runtime_sampler_and_estimator(clouds, provider):
    backend = provider.get_backend("fake_manila", provider="ibm_quantum")
    assert backend.num_qubits == 5
    _one_call(clouds, provider.hal, "ibm_quantum", lambda: checks.check_sampler(HalSampler(backend), shots=1000, bound=0.2))  # fake_manila: readout errors reach ~10%
    _one_call(clouds, provider.hal, "ibm_quantum", lambda: checks.check_estimator(HalEstimator(backend), precision=0.02, bound=0.15))


def test_braket_sampler_and_estimator(clouds, provider):
    """SV1 through the real AwsDevice (Braket's local simulators: test_aws_braket.py)."""
    device = SV1
    backend = provider.get_backend(device, provider="aws_braket")
    sampled = checks.check_sampler(HalSampler(backend), shots=1000)
    estimated = checks.check_estimator(HalEstimator(backend), precision=0.02)
    hal = provider.hal
    assert len(checks.batch_ids(hal, sampled)) == 1 and len(checks.batch_ids(hal, estimated)) == 1
    assert len({r["remote_id"].partition("#")[0] for r in hal.records(sampled)}) == 1  # one program-set task


@pytest.mark.parametrize("target", ["quantinuum.sim.h2-1e", "ionq.simulator"])
def test_azure_sampler_and_estimator(provider, target):
    backend = provider.get_backend(target, provider="azure_quantum")
    sampled = checks.check_sampler(HalSampler(backend), shots=1000, bound=0.12)
    hal = provider.hal
    assert len(checks.batch_ids(hal, sampled)) == 1
    if target.startswith("quantinuum"):  # estimates from counts of basis-rotated circuits (the same path for IonQ)
        estimated = checks.check_estimator(HalEstimator(backend), precision=0.02, bound=0.15)
        assert len(checks.batch_ids(hal, estimated)) == 1
    memory = [r.get("memory") for r in (hal.transport.result(i) for i in sampled)]
    if target.startswith("ionq"):  # probabilities only: the sampler draws its shots from counts
        assert memory == [None, None]
    else:
        assert all(m is not None for m in memory)
