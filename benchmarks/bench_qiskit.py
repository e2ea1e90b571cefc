"""HalSampler and HalEstimator against Aer's own V2 primitives: the same PUBs,
same machine, same run.

    python benchmarks/bench_qiskit.py [--pubs 100] [--points 50] [--qubits 5] [--shots 1024] [--repeat 3] [--rest]

Workload (issue 24's): ``--pubs`` PUBs of one ``--qubits``-qubit circuit
(``real_amplitudes``, two repetitions, measured), each with ``--points`` random
parameter points. What is timed is what a Qiskit user waits for: from
``run(pubs)`` until the ``PrimitiveResult`` is in hand (for a sampler, a
``BitArray`` per point).

- direct: ``qiskit_aer.primitives.SamplerV2().run(pubs).result()``;
- HAL, counts: ``HalSampler(backend, options={"memory": False})`` (each point's
  counts travel; the BitArray's shots are drawn from them);
- HAL, per shot: ``HalSampler(backend)`` (each shot's bitstring travels: the
  request's ``memory``);
- estimator: Aer's ``EstimatorV2`` against ``HalEstimator`` on the same PUBs with a
  5-term observable (exact expectation values on both sides; precision 0).

The HAL runs embedded (as in a plain Python kernel), or with ``--rest`` in a
Jupyter server of its own (the kernel-to-server path). Its batching settings are
the defaults, so the 100 jobs leave as two size-triggered batches of 50.
Rounds alternate the variants; medians are printed with ratios to the direct call.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def workload(args: argparse.Namespace) -> tuple[Any, list[Any], list[Any]]:
    from qiskit.circuit.library import real_amplitudes
    from qiskit.quantum_info import SparsePauliOp

    circuit = real_amplitudes(args.qubits, reps=2)
    measured = circuit.measure_all(inplace=False)
    rng = np.random.default_rng(11)
    points = [rng.uniform(0, np.pi, (args.points, circuit.num_parameters)) for _ in range(args.pubs)]
    labels = ["Z" * args.qubits, "X" * args.qubits, *("I" * k + "ZZ" + "I" * (args.qubits - k - 2) for k in range(3))]
    observable = SparsePauliOp(labels, [1.0, 0.5, 0.25, 0.25, 0.25])
    sampled = [(measured, p) for p in points]
    estimated = [(circuit, observable, p) for p in points]
    return measured, sampled, estimated


def timed(run: Any, check: Any) -> float:
    started = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - started
    check(result)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pubs", type=int, default=100)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--qubits", type=int, default=5)
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rest", action="store_true", help="the HAL in a Jupyter server of its own, reached over REST")
    args = parser.parse_args()

    from qiskit_aer.primitives import EstimatorV2 as AerEstimator
    from qiskit_aer.primitives import SamplerV2 as AerSampler

    from hal_jupyter import Hal
    from hal_jupyter.qiskit import HalEstimator, HalProvider, HalSampler

    _, sampled, estimated = workload(args)
    shape = (args.points,)

    def sampler_check(result: Any) -> None:
        assert len(result) == args.pubs and result[0].data.meas.shape == shape and result[0].data.meas.num_shots == args.shots

    def estimator_check(result: Any) -> None:
        assert len(result) == args.pubs and result[0].data.evs.shape == shape

    with tempfile.TemporaryDirectory() as tmp:
        server = None
        if args.rest:
            from hal_jupyter.offline.processes import ServerProcess

            server = ServerProcess(Path(tmp), db_url=f"sqlite:///{tmp}/jobs.sqlite").start()
            hal = Hal(server.url + "/", server.token)
        else:
            hal = Hal(embedded=True, db_url=f"sqlite:///{tmp}/jobs.sqlite", env_file="")
        try:
            backend = HalProvider(hal).get_backend("aer_simulator", provider="local_simulator")
            variants = {
                "sampler, direct (Aer SamplerV2)": lambda: timed(lambda: AerSampler(default_shots=args.shots).run(sampled).result(), sampler_check),
                "sampler, HAL counts": lambda: timed(lambda: HalSampler(backend, options={"memory": False}).run(sampled, shots=args.shots).result(), sampler_check),
                "sampler, HAL per shot": lambda: timed(lambda: HalSampler(backend).run(sampled, shots=args.shots).result(), sampler_check),
                "estimator, direct (Aer EstimatorV2)": lambda: timed(lambda: AerEstimator().run(estimated, precision=0).result(), estimator_check),
                "estimator, HAL": lambda: timed(lambda: HalEstimator(backend, options={"default_precision": 0}).run(estimated).result(), estimator_check),
            }
            variants["sampler, HAL counts"]()  # warm up the engine's simulator processes
            times: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.repeat):
                for name, run in variants.items():
                    times[name].append(run())
        finally:
            hal.close()
            if server is not None:
                server.stop()

    where = "REST (a Jupyter server)" if args.rest else "embedded engine"
    print(f"{args.pubs} PUBs x {args.points} points, {args.qubits} qubits, {args.shots} shots; HAL: {where}; medians of {args.repeat}")
    print(f"{'variant':40} {'median s':>9} {'ratio':>7}")
    for name, values in times.items():
        base = statistics.median(times[("sampler" if name.startswith("sampler") else "estimator") + (", direct (Aer SamplerV2)" if name.startswith("sampler") else ", direct (Aer EstimatorV2)")])
        median = statistics.median(values)
        print(f"{name:40} {median:9.3f} {median / base:7.2f}x")
    print("target (issue 24): HalSampler <= 1.3x Aer SamplerV2")


if __name__ == "__main__":
    main()
