"""``aws_braket``: Amazon Braket through amazon-braket-sdk.

Two kinds of device behind one provider name, as qiskit-braket-provider splits
them: the local simulators ``braket_sv`` and ``braket_dm`` (:mod:`.local`:
Braket's ``LocalSimulator``, free, no account) and devices by ARN
(:mod:`.cloud`: ``AwsDevice``, an AWS account). Both take the same circuits,
converted by :mod:`.convert`; :mod:`.results` makes their readings results,
:mod:`.pricing` says what they cost. This module checks jobs against a
device's capabilities (its gates, qubits and program-set limits, read once per
device) and sends each batch to its kind of device.

No reset or mid-circuit measurement (400). A job whose circuit does not
convert is not sent and fails alone, with its reason. A job may run in a
Braket Direct reservation of its device (``execution.reservation_arn``; a 400
on the local simulators, which have nothing to reserve).
"""

from __future__ import annotations

from typing import Any

from ...engine import sweeps
from ...engine.contract import Availability, BatchSpec, JobSpec, Report, Submission
from ...engine.errors import InvalidRequest, ProviderUnavailable
from ...engine.models import BackendInfo, CostEstimate
from ...engine.retry import classify
from .. import quantum
from . import pricing
from .capabilities import Capabilities, capabilities_of
from .cloud import CloudDevices, missing_account
from .convert import parameter_names, plan, qiskit_native, to_braket
from .local import DEVICES as LOCAL
from .local import LocalDevices



class AwsBraketProvider(quantum.QuantumProvider):
    name = "aws_braket"
    description = "Amazon Braket (amazon-braket-sdk): local simulators, devices by ARN; one program-set task per batch"
    max_concurrency = 4
    max_batch_size = 100
    per_shot_results = True  # Braket results hold each shot's measurements
    # Local runs are free; cloud creates carry a client token made from the batch id:
    # either way submitting a batch again cannot bill it twice.
    resubmit_safe = True
    remote_survives_restart = True
    poll_interval = (0.5, 30.0)
    inline_validation = False
    reservations = True

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._local = LocalDevices(lambda batch_id: self._notify(batch_id))
        self._cloud = CloudDevices(self.settings.provider_timeout_s, self._set_limit)
        self._capabilities: dict[str, Capabilities] = {}

    def survives_restart_on(self, backend: str) -> bool:
        """Cloud tasks outlive the server; local runs die with it (and run again)."""
        return backend not in LOCAL

    def availability(self) -> Availability:
        try:
            import braket.devices  # noqa: F401
        except ImportError:
            return Availability(False, "amazon-braket-sdk is not installed: pip install 'hal-jupyter[aws]'")
        missing = missing_account()
        return Availability(True, f"local simulators only; {missing}" if missing else None)

    def backends(self) -> list[BackendInfo]:
        return self._local.backends() + self._cloud.backends()

    def default_backend(self) -> str:
        return "braket_sv"

    # -- capabilities ------------------------------------------------------------------
    def _native(self, backend: str) -> Capabilities:
        """The device's Braket gates, qubit count and, where it takes program sets, their
        limits (most executables, most shots in all); read once per device."""
        if backend not in self._capabilities:
            properties = self._local.properties(backend) if backend in LOCAL else self._cloud.properties(backend)
            self._capabilities[backend] = capabilities_of(properties)
        return self._capabilities[backend]

    def _set_limit(self, backend: str, shots: int) -> int:
        """How many executables one program set may hold at ``shots`` each on the device;
        0 where it takes no program sets (or not one executable of so many shots)."""
        limits = self._native(backend)[2]
        return min(limits[0], limits[1] // shots) if limits is not None else 0

    # -- checks and cost ------------------------------------------------------------------
    def validate(self, job: JobSpec) -> None:
        if job.backend not in LOCAL and not job.backend.startswith("arn:aws:braket:"):
            raise InvalidRequest(f"aws_braket runs on {', '.join(LOCAL)} or a device ARN (arn:aws:braket:...), not {job.backend!r}")
        if job.payload.get("options"):
            raise InvalidRequest("aws_braket takes no options")
        if job.backend in LOCAL and pricing.reservation_of(job.payload.get("execution")):
            raise InvalidRequest(f"{job.backend} is a local simulator, with nothing to reserve: leave out 'reservation_arn', or run on the reserved device's ARN")
        try:
            native, qubits, _ = self._native(job.backend)
        except ProviderUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the service's answer, as a 400 (503 when it is flaky)
            if classify(exc) is not None:
                raise ProviderUnavailable(f"aws_braket is not answering (try again): {exc}") from None
            raise InvalidRequest(f"aws_braket: no device {job.backend!r}: {exc}") from None
        quantum.check_circuit(job, job.backend, qubits, qiskit_native(native), reset=False, mid_circuit_measurement=False)
        sweep = sweeps.of(job.payload)
        if sweep.estimating and not plan(sweep):
            raise InvalidRequest(
                "the observables hold identity terms only: each one's value is the sum of its coefficients, "
                "and aws_braket has nothing to measure (add a Pauli term, or compute it without a device)"
            )
        if job.backend not in LOCAL:
            self._cloud.check_spread(job)

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        return pricing.FREE if job.backend in LOCAL else self._cloud.estimate_cost(job)

    def estimate_batch(self, jobs: list[JobSpec]) -> dict[str, CostEstimate]:
        """Each job's share when the jobs go as one batch (they share a device, shots and
        execution): one program-set task on a device that takes them (:func:`.pricing.shares`)."""
        if len(jobs) < 2 or jobs[0].backend in LOCAL or pricing.reservation_of(jobs[0].payload.get("execution")):
            return super().estimate_batch(jobs)
        return self._cloud.estimate_batch(jobs)

    # -- running ------------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        native = self._native(batch.backend)[0]
        if batch.backend in LOCAL:
            return self._local.submit(batch, native)
        return self._cloud.submit(batch, native)

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        jobs = [job for job in batch.jobs if job.id in remote_ids]
        if not jobs:
            return {}
        if batch.backend in LOCAL:
            return self._local.poll(batch, jobs)
        return self._cloud.poll(batch, jobs, remote_ids)

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        if batch.backend in LOCAL:
            self._local.cancel(batch, remote_ids, job_ids)
        else:
            self._cloud.cancel(remote_ids, job_ids)

    def close(self) -> None:
        self._local.close()


__all__ = ["AwsBraketProvider", "parameter_names", "to_braket"]
