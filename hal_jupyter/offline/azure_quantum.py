"""A local Azure Quantum workspace: the data plane and its blob store, behind the real ``Workspace``.

Data plane (under ``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Quantum/workspaces/{ws}``):
``GET /providerStatus``, ``POST /storage/sasUri``, ``PUT|GET /jobs/{id}``,
``POST /jobs/{id}:cancel``, ``GET /jobs``, ``PUT|GET /sessions/{id}``; the API key
(``x-ms-quantum-api-key``) is checked. Blob store under ``/blob/{container}/{blob}``
(container create, blob put/get/properties), which the SDK reaches through SAS URLs.

Jobs run for real: IonQ's ``ionq.circuit.v1`` JSON is rebuilt as a Qiskit circuit
and Quantinuum's ``honeywell.openqasm.v1`` OpenQASM 2 parsed, both simulated
noiselessly with Aer; results are written back in each provider's format.
Creates are counted; ``hold`` keeps jobs Waiting; ``fail_next`` fails the next job.

Sessions open, answer and close (Succeeded, or Failed with a failed job) as Azure's do;
``GET /__offline__/stats`` lists each with its status and jobs. A finished job on an
IonQ QPU carries the ``costEstimate`` Azure reports (simulators are free: none).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from . import credentials
from .http import JsonHandler, World, free_port, serve

API_KEY = credentials.AZURE_QUANTUM_API_KEY
SUBSCRIPTION, GROUP, WORKSPACE, LOCATION = "00000000-0000-0000-0000-000000000000", "hal-rg", "hal-ws", "eastus"
PREFIX = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Quantum/workspaces/{WORKSPACE}"
TARGETS = {
    "ionq": [("ionq.simulator", "Available", 0), ("ionq.qpu.aria-1", "Available", 3600)],
    "quantinuum": [("quantinuum.sim.h2-1e", "Available", 60), ("quantinuum.qpu.h2-1", "Degraded", 86400)],
    "rigetti": [("rigetti.sim.qvm", "Available", 5)],
}
ION_GATES = {"x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi", "rx", "ry", "rz", "swap", "cnot", "not"}


def connection_string(base_url: str) -> str:
    return (f"SubscriptionId={SUBSCRIPTION};ResourceGroupName={GROUP};WorkspaceName={WORKSPACE};"
            f"ApiKey={API_KEY};QuantumEndpoint={base_url}/;")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def ionq_circuit(program: dict[str, Any]) -> Any:
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(program["qubits"])
    for gate in program["circuit"]:
        name, targets = gate["gate"], gate.get("targets", [gate.get("target")])
        controls = gate.get("controls", [gate["control"]] if "control" in gate else [])
        rotation = gate.get("rotation")
        if name in ("cnot", "not") or (name == "x" and controls):
            circuit.mcx(controls, targets[0]) if controls else circuit.x(targets[0])
        elif name == "swap":
            circuit.swap(*targets)
        elif name in ("rx", "ry", "rz"):
            getattr(circuit, name)(rotation, targets[0])
        else:
            method = {"si": "sdg", "ti": "tdg", "v": "sx", "vi": "sxdg"}.get(name, name)
            getattr(circuit, method)(targets[0])
    circuit.measure_all()
    return circuit


def cost_estimate(job: dict[str, Any], data: bytes) -> dict[str, Any] | None:
    """The ``costEstimate`` Azure reports for a finished job: on IonQ QPUs, the gate-shots
    at IonQ's prices, or the per-job minimum when that is more; None elsewhere (simulators
    are free; Quantinuum bills its own credits)."""
    from ..providers import prices

    if not job["target"].startswith("ionq.qpu") or job["inputDataFormat"] != "ionq.circuit.v1":
        return None
    gates = json.loads(data)["circuit"]
    shots = int((job.get("inputParams") or {}).get("shots", 500))
    two = sum(len(g.get("targets", [])) + len(g.get("controls", [])) >= 2 for g in gates)
    rates = [("gs1q", "1Q Gate Shot", prices.IONQ_PER_1Q_GATE_SHOT, (len(gates) - two) * shots), ("gs2q", "2Q Gate Shot", prices.IONQ_PER_2Q_GATE_SHOT, two * shots)]
    events = [{"dimensionId": d, "dimensionName": n, "measureUnit": n.lower(), "amountBilled": float(a), "amountConsumed": float(a), "unitPrice": r} for d, n, r, a in rates]
    total = max(prices.IONQ_MINIMUM, sum(r * a for _, _, r, a in rates))
    return {"currencyCode": "USD", "events": events, "estimatedTotal": round(total, 4)}


class AzureQuantum(World):
    service = "Azure Quantum (with its blob storage)"

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.blobs: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.containers: set[str] = set()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.hold = threading.Event()
        self.hold.set()
        self.fail_next: str | None = None
        self.simulating = threading.Lock()

    def sas(self, container: str, blob: str | None = None) -> str:
        path = f"{self.base_url}/blob/{container}" + (f"/{blob}" if blob else "")
        return path + "?sv=2023-01-03&sig=emulator"

    def provider_status(self) -> dict[str, Any]:
        value = []
        for provider, targets in TARGETS.items():
            value.append({
                "id": provider, "currentAvailability": "Available",
                "targets": [{"id": t, "currentAvailability": a, "averageQueueTime": q, "statusPage": None} for t, a, q in targets],
            })
        return {"value": value, "nextLink": None}

    def create_job(self, job_id: str, spec: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.guard:
            if job_id in self.jobs:
                return 409, {"error": {"code": "JobAlreadyExists", "message": f"a job with id {job_id} exists"}}
            fail, self.fail_next = self.fail_next, None
            job = {**spec, "id": job_id, "status": "Waiting", "creationTime": _now(), "beginExecutionTime": None, "endExecutionTime": None,
                   "cancellationTime": None, "errorData": None, "_fail": fail}
            job.setdefault("outputDataUri", self.sas(spec["containerUri"].split("/blob/")[1].split("?")[0], "rawOutputData"))
            self.jobs[job_id] = job
            self.creates.append(job_id)
        threading.Thread(target=self._run, args=(job_id,), name="azure-quantum-job", daemon=True).start()
        return 200, self.public(job)

    def open_session(self, session_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        with self.guard:
            session = {**spec, "id": session_id, "status": "Waiting", "creationTime": _now(), "endExecutionTime": None}
            return self.sessions.setdefault(session_id, session)

    def close_session(self, session_id: str) -> dict[str, Any] | None:
        with self.guard:
            session = self.sessions.get(session_id)
            if session is not None and session["status"] in ("Waiting", "Executing"):
                failed = any(j["status"] == "Failed" for j in self.jobs.values() if j.get("sessionId") == session_id)
                session.update(status="Failed" if failed else "Succeeded", endExecutionTime=_now())
            return session

    def stats(self) -> dict[str, Any]:
        """The counters, and each session's status and jobs."""
        with self.guard:
            sessions = {
                sid: {"name": s.get("name"), "status": s["status"], "jobs": [j for j, job in self.jobs.items() if job.get("sessionId") == sid]}
                for sid, s in self.sessions.items()
            }
        return {**super().stats(), "sessions": sessions}

    def public(self, job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _blob_of(self, uri: str) -> tuple[str, str]:
        container, _, blob = urlparse(uri).path.removeprefix("/blob/").partition("/")
        return container, blob

    def _run(self, job_id: str) -> None:
        self.hold.wait(timeout=600)
        job = self.jobs[job_id]
        with self.guard:
            if job["status"] != "Waiting":
                return
            job.update(status="Executing", beginExecutionTime=_now())
        try:
            if job["_fail"]:
                raise RuntimeError(job["_fail"])
            data, _ = self.blobs[self._blob_of(job["inputDataUri"])]
            with self.simulating:  # one simulation at a time: hundreds of jobs of a sweep arrive at once
                output, content_type = self._simulate(job, data)
            self.blobs[self._blob_of(job["outputDataUri"])] = (output, content_type)
            outcome: dict[str, Any] = {"status": "Succeeded", "costEstimate": cost_estimate(job, data)}
        except Exception as exc:  # noqa: BLE001 - the job fails with the provider's message
            outcome = {"status": "Failed", "errorData": {"code": "ExecutionFailed", "message": str(exc)}}
        with self.guard:
            if job["status"] == "Executing":
                job.update(outcome, endExecutionTime=_now())
            session = self.sessions.get(job.get("sessionId") or "")
            if session is not None and session["status"] == "Waiting":
                session["status"] = "Executing"

    def _simulate(self, job: dict[str, Any], data: bytes) -> tuple[bytes, str]:
        from qiskit import qasm2, transpile
        from qiskit_aer import AerSimulator

        params = job.get("inputParams") or {}
        if job["inputDataFormat"] == "ionq.circuit.v1":
            program = json.loads(data)
            unknown = {g["gate"] for g in program["circuit"]} - ION_GATES
            if unknown:
                raise ValueError(f"IonQ: unsupported gate(s) {sorted(unknown)}")
            circuit, shots = ionq_circuit(program), int(params.get("shots", 500))
            counts = AerSimulator().run(transpile(circuit, AerSimulator()), shots=shots).result().get_counts()
            histogram = {str(int(key.replace(" ", ""), 2)): n / shots for key, n in counts.items()}
            return json.dumps({"histogram": histogram}).encode(), "application/json"
        if job["inputDataFormat"] == "honeywell.openqasm.v1":
            circuit = qasm2.loads(data.decode(), include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
            shots = int(params.get("shots", params.get("count", 500)))
            # Aer reads instructions by name (a user's `gate mcx` would run as Aer's MCX): lower the
            # program to names qelib1.inc declares, which no gate of the program can redefine
            lowered = transpile(circuit, basis_gates=["u", "cx", "measure", "reset"])
            memory = AerSimulator().run(lowered, shots=shots, memory=True).result().get_memory()
            registers = [(creg.name, creg.size) for creg in circuit.cregs]
            out: dict[str, list[str]] = {name: [] for name, _ in registers}
            for shot in memory:
                parts = shot.split(" ")[::-1]  # Qiskit prints the last register first
                for (name, _), bits in zip(registers, parts):
                    out[name].append(bits)
            return json.dumps(out).encode(), "application/json"
        raise ValueError(f"input format {job['inputDataFormat']} is not supported by this emulator")

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        with self.guard:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            self.cancels.append(job_id)
            if job["status"] in ("Waiting", "Executing"):
                job.update(status="Cancelled", cancellationTime=_now())
            return self.public(job)


def _handler(world: AzureQuantum) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def faulty(self) -> bool:
            return not self.path.startswith("/blob/")  # the Azure Quantum API is flaky, its storage is not

        def _route(self) -> None:
            url = urlparse(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            raw = self._body() if self.command in ("PUT", "POST") else b""
            if path.startswith("/blob/"):
                return self._blob(path, query, raw)
            if self.headers.get("x-ms-quantum-api-key") != API_KEY:
                return self._reply(401, {"error": {"code": "Unauthorized", "message": "invalid API key"}})
            if not path.startswith(PREFIX):
                return self._reply(404, {"error": {"code": "NotFound", "message": path}})
            rest = path[len(PREFIX):]
            if rest == "/providerStatus" and self.command == "GET":
                return self._reply(200, world.provider_status())
            if rest == "/storage/sasUri" and self.command == "POST":
                spec = json.loads(raw)
                return self._reply(200, {"sasUri": world.sas(spec["containerName"], spec.get("blobName"))})
            if rest == "/jobs" and self.command == "GET":
                return self._reply(200, {"value": [world.public(j) for j in world.jobs.values()], "nextLink": None})
            if match := re.fullmatch(r"/jobs/([^/:]+):cancel", rest):
                job = world.cancel(match[1])
                return self._reply(200, job) if job else self._reply(404, {"error": {"code": "JobNotFound", "message": match[1]}})
            if match := re.fullmatch(r"/jobs/([^/:]+)", rest):
                if self.command == "PUT":
                    return self._reply(*world.create_job(match[1], json.loads(raw)))
                if self.command == "DELETE":
                    job = world.cancel(match[1])
                    return self._reply(204) if job else self._reply(404, {"error": {"code": "JobNotFound", "message": match[1]}})
                job = world.jobs.get(match[1])
                return self._reply(200, world.public(job)) if job else self._reply(404, {"error": {"code": "JobNotFound", "message": match[1]}})
            if match := re.fullmatch(r"/sessions/([^/:]+)(:close)?", rest):
                if self.command == "PUT":
                    return self._reply(200, world.open_session(match[1], json.loads(raw)))
                session = world.close_session(match[1]) if match[2] else world.sessions.get(match[1])
                if session is None:
                    return self._reply(404, {"error": {"code": "SessionNotFound", "message": match[1]}})
                return self._reply(200, session)
            print("azure quantum emulator: unhandled", self.command, path, flush=True)
            self._reply(404, {"error": {"code": "NotFound", "message": f"{self.command} {rest}"}})

        def _blob(self, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            container, _, blob = path.removeprefix("/blob/").partition("/")
            stamp = {"ETag": '"0x1"', "Last-Modified": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()), "x-ms-version": "2023-01-03"}
            if not blob:
                if self.command == "PUT":
                    exists = container in world.containers
                    world.containers.add(container)
                    if exists:
                        return self._reply(409, b"", "application/xml", {"x-ms-error-code": "ContainerAlreadyExists", **stamp})
                    return self._reply(201, b"", "application/xml", stamp)
                if container in world.containers:
                    return self._reply(200, b"", "application/xml", stamp)
                return self._reply(404, b"", "application/xml", {"x-ms-error-code": "ContainerNotFound", **stamp})
            if self.command == "PUT":
                world.containers.add(container)
                world.blobs[(container, blob)] = (raw, self.headers.get("x-ms-blob-content-type") or "application/octet-stream")
                return self._reply(201, b"", "application/xml", {**stamp, "Content-MD5": ""})
            found = world.blobs.get((container, blob))
            if found is None:
                return self._reply(404, b"", "application/xml", {"x-ms-error-code": "BlobNotFound", **stamp})
            data, content_type = found
            headers = {**stamp, "x-ms-blob-type": "BlockBlob", "Accept-Ranges": "bytes"}
            if self.headers.get("x-ms-range") or self.headers.get("Range"):
                headers["Content-Range"] = f"bytes 0-{max(len(data) - 1, 0)}/{len(data)}"
                return self._reply(206, data, content_type, headers)
            return self._reply(200, data, content_type, headers)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _route  # noqa: N815

    return Handler


def env(url: str) -> dict[str, str]:
    """The provider variables that point azure_quantum at this emulator's workspace."""
    return {
        "AZURE_QUANTUM_SUBSCRIPTION_ID": SUBSCRIPTION, "AZURE_QUANTUM_WORKSPACE_RG": GROUP,
        "AZURE_QUANTUM_WORKSPACE_NAME": WORKSPACE, "AZURE_QUANTUM_WORKSPACE_LOCATION": LOCATION,
        "AZURE_QUANTUM_API_KEY": API_KEY, "HAL_AZURE_QUANTUM_ENDPOINT": url,
    }


def start() -> tuple[ThreadingHTTPServer, AzureQuantum, str]:
    port = free_port()
    world = AzureQuantum(f"http://127.0.0.1:{port}")
    server, _ = serve(_handler(world), "azure-quantum-offline", port, world=world)
    return server, world, world.base_url


__all__ = ["API_KEY", "AzureQuantum", "connection_string", "start", "uuid"]
