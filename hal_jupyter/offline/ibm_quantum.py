"""A local IBM Quantum Platform behind the real ``QiskitRuntimeService`` (qiskit-ibm-runtime 0.51).

Routes, as the SDK calls them (``RUNTIME`` is the Runtime API's base path):

``POST /identity/token``
    IBM Cloud IAM (:mod:`.iam`): the API key for a short-lived bearer token.
``POST /global-search/v3/resources/search``, ``GET /global-catalog/{plan}``
    the instance lookup the SDK makes even when given a CRN (``instances()``).
``GET RUNTIME/backends``, ``GET RUNTIME/backends/{name}/configuration|properties|status``
    the fake backends' own configuration and calibration snapshots, so the SDK
    builds real ``IBMBackend`` objects with their targets.
``GET RUNTIME/instances/usage``
    checked before every job.
``POST RUNTIME/sessions``, ``GET|PATCH RUNTIME/sessions/{id}``, ``DELETE RUNTIME/sessions/{id}/close``
    sessions and batches (:mod:`.ibm_sessions`); ``/__offline__/stats`` counts
    ``sessions`` (dedicated) and ``batches`` opened, and a job's JSON carries its
    ``session_id`` as the real API's does.
``POST RUNTIME/jobs``, ``GET RUNTIME/jobs`` (``tags``, ``pending``, ``backend``, ``program``,
``limit``, ``offset``), ``GET RUNTIME/jobs/{id}``, ``GET RUNTIME/jobs/{id}/results``,
``POST RUNTIME/jobs/{id}/cancel``, ``GET RUNTIME/jobs/{id}/metrics``
    runtime jobs: ``sampler`` and ``estimator`` V2 PUBs, decoded with the SDK's
    ``RuntimeDecoder``, run by Aer's V2 primitives with the backend's noise
    (``AerSimulator.from_backend``), one at a time, their ``PrimitiveResult``
    encoded with ``RuntimeEncoder`` as the SDK's result decoder reads it. A
    finished job's metrics report ``usage.quantum_seconds`` =
    :func:`usage_seconds` of the shots it ran (every PUB at every point; an
    Estimator PUB counts 1/precision**2 shots per value).

Two instances (:mod:`.ibm_instances`): ``CRN`` (Pay-As-You-Go) and ``OPEN_CRN`` (the Open
Plan, no dedicated sessions); ``env(url, plan="open")`` names the second.

Pointing the SDK here takes only supported settings (see :func:`env`):
``url=`` with a base URL that contains ``experimental`` (the SDK's URL resolver
uses such a URL as the Runtime API base as it is; any other URL it rewrites to
``https://quantum.<host>/api/v1``, dropping the port), ``IAM_URL`` (read by
qiskit-ibm-runtime for the IAM token) and ``GLOBAL_SEARCH_URL`` /
``GLOBAL_CATALOG_URL`` (read by ibm-cloud-sdk-core's ``configure_service``).

A 500 on ``POST RUNTIME/jobs`` is injected *before* the job is created: the SDK
sends such POSTs again by itself, because the IBM Quantum API guarantees that
retrying them is safe. Creates are counted; ``hold`` keeps jobs QUEUED until
set again; ``fail_next`` fails the next job with that reason.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from .http import JsonHandler, World, serve
from .iam import API_KEY, Iam
from .ibm_instances import CRN, OPEN_CRN, PLAN_ID
from .ibm_sessions import Sessions
from . import ibm_instances as instances

#: the quantum time a job reports: a fixed overhead plus a time per shot (not the provider's
#: estimate, so that tests tell the actual cost from the estimate)
USAGE_FIXED_S = 1.0
USAGE_PER_SHOT_S = 0.0001
#: the Runtime API's base path; "experimental" keeps the SDK from rewriting the URL
RUNTIME = "/experimental/api/v1"
#: the fake backends served, by the names they carry
BACKENDS = ("fake_manila", "fake_brisbane")
FINAL = ("Completed", "Failed", "Cancelled")
BACKEND_PATH = re.compile(r"^/backends/(?P<name>[^/]+)/(?P<what>configuration|properties|status)$")
SESSION_PATH = re.compile(r"^/sessions/(?P<id>[^/]+)(?P<rest>/close)?$")
JOB_PATH = re.compile(r"^/jobs/(?P<id>[^/]+)(?P<rest>/results|/cancel|/metrics)?$")


def usage_seconds(shots: int) -> float:
    """The quantum time a runtime job of ``shots`` shots in all reports (``usage.quantum_seconds``)."""
    return round(USAGE_FIXED_S + USAGE_PER_SHOT_S * shots, 6)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _fake(name: str) -> Any:
    import warnings

    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():  # loading every fake device warns about some we do not serve
        warnings.simplefilter("ignore", UserWarning)
        return FakeProviderForBackendV2().backend(name)


class IbmQuantum(World):
    service = "IBM Quantum Platform (with IBM Cloud IAM and the instance lookup)"

    def __init__(self, backends: tuple[str, ...] = BACKENDS) -> None:
        super().__init__()
        self.iam = Iam()
        self.backends: dict[str, dict[str, Any]] = {}
        for name in backends:
            fake = _fake(name)
            conf = fake._load_json(fake.conf_filename)  # the raw snapshots, as the service answers them
            conf["backend_name"] = fake.backend_name
            self.backends[fake.backend_name] = {"fake": fake, "conf": conf, "props": fake._load_json(fake.props_filename), "simulator": None}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.hold = threading.Event()
        self.hold.set()  # set: jobs run; clear(): they stay QUEUED until set() again
        self.fail_next: str | None = None
        self.simulating = threading.Lock()  # one simulation at a time
        self._seeds = random.Random(0)
        self.sessions = Sessions(self._pending_in)

    def stats(self) -> dict[str, Any]:
        with self.guard:
            states: dict[str, int] = {}
            for job in self.jobs.values():
                states[job["status"]] = states.get(job["status"], 0) + 1
        return {**super().stats(), "jobs": states, "token_requests": self.iam.token_requests, **self.sessions.stats()}

    def _pending_in(self, session_id: str) -> int:
        with self.guard:
            return sum(j["session_id"] == session_id and j["status"] not in FINAL for j in self.jobs.values())

    # -- backends -------------------------------------------------------------
    def _queued(self, backend: str) -> int:
        return sum(j["status"] == "Queued" and j["backend"] == backend for j in self.jobs.values())

    def devices(self) -> dict[str, Any]:
        devices = [
            {"name": name, "status": {"name": "online", "reason": "available"}, "qubits": b["conf"]["n_qubits"],
             "queue_length": self._queued(name), "processor_type": b["conf"].get("processor_type"), "clops": b["conf"].get("clops")}
            for name, b in self.backends.items()
        ]
        return {"devices": devices}

    def backend_status(self, name: str) -> dict[str, Any]:
        return {"state": True, "status": "active", "message": "available", "length_queue": self._queued(name),
                "backend_version": self.backends[name]["conf"].get("backend_version", "1.0.0")}

    # -- jobs -----------------------------------------------------------------
    def create(self, spec: dict[str, Any], raw: bytes) -> tuple[int, dict[str, Any]]:
        backend = spec.get("backend")
        if backend not in self.backends:
            return 400, _error(1211, f"Backend {backend} not found.")
        if spec.get("program_id") not in ("sampler", "estimator"):
            return 404, _error(1218, f"Program {spec.get('program_id')} not found.")
        job_id = "d" + uuid.uuid4().hex[:19]
        if spec.get("session_id") and (refused := self.sessions.admit(spec["session_id"], job_id, backend)):
            return refused
        with self.guard:
            fail, self.fail_next = self.fail_next, None
            self.jobs[job_id] = {
                "id": job_id, "backend": backend, "program": {"id": spec["program_id"]}, "status": "Queued",
                "state": {"status": "Queued"}, "created": _now(), "tags": list(spec.get("tags") or []),
                "session_id": spec.get("session_id"), "private": bool(spec.get("private")), "runtime": spec.get("runtime", ""),
                "cost": spec.get("cost", 0), "user_id": "hal-offline", "_params": raw, "_fail": fail, "_result": None, "_usage": None,
            }
            self.creates.append(job_id)
        threading.Thread(target=self._run, args=(job_id,), name="ibm-quantum-job", daemon=True).start()
        return 200, {"id": job_id, "backend": backend}

    def _set(self, job: dict[str, Any], status: str, **fields: Any) -> None:
        job["status"] = status
        job["state"] = {"status": status, **{k: v for k, v in fields.items() if k in ("reason", "reason_code")}}
        job.update({k: v for k, v in fields.items() if k.startswith("_")})

    def _run(self, job_id: str) -> None:
        self.hold.wait(timeout=600)
        job = self.jobs[job_id]
        with self.guard:
            if job["status"] != "Queued":
                return
            self._set(job, "Running")
        self.sessions.job_started(job["session_id"])
        try:
            if job["_fail"]:
                raise RuntimeError(job["_fail"])
            with self.simulating:
                self.invokes.append(job_id)
                result, seconds = self._simulate(job)
            outcome: dict[str, Any] = {"status": "Completed", "_result": result, "_usage": seconds}
        except Exception as exc:  # noqa: BLE001 - the job fails with the reason, as the service reports it
            outcome = {"status": "Failed", "reason": str(exc), "reason_code": 1517, "_result": f"Error: {exc}", "_usage": 0.0}
        with self.guard:
            if job["status"] == "Running":
                self._set(job, **outcome)
        self.sessions.job_ended(job["session_id"], outcome["_usage"])

    def _simulator(self, backend: str) -> Any:
        entry = self.backends[backend]
        if entry["simulator"] is None:
            from qiskit_aer import AerSimulator

            entry["simulator"] = AerSimulator.from_backend(entry["fake"])
        return entry["simulator"]

    def _simulate(self, job: dict[str, Any]) -> tuple[str, float]:
        from qiskit_aer.primitives import EstimatorV2, SamplerV2
        from qiskit_ibm_runtime.utils.json import RuntimeDecoder, RuntimeEncoder

        params = json.loads(job["_params"], cls=RuntimeDecoder)["params"]
        options = params.get("options") or {}
        seed = (options.get("simulator") or {}).get("seed_simulator")
        if seed is None:  # seeded in the order jobs run, so a test's noisy draws repeat
            seed = self._seeds.randrange(2**31)
        simulator = self._simulator(job["backend"])
        pubs = [tuple(pub) for pub in params["pubs"]]
        if job["program"]["id"] == "sampler":
            sampler = SamplerV2.from_backend(simulator, default_shots=options.get("default_shots") or 4096, seed=seed)
            result = sampler.run(pubs).result()
            shots = sum(r.join_data().num_shots * max(1, r.join_data().size) for r in result)
        else:
            shots = options.get("default_shots")
            precision = options.get("default_precision") or (1 / shots**0.5 if shots else 0.015625)
            estimator = EstimatorV2.from_backend(simulator, options={"default_precision": precision, "run_options": {"seed_simulator": seed}})
            result = estimator.run(pubs).result()
            shots = sum(round(r.metadata["target_precision"] ** -2) * max(1, r.data.evs.size) for r in result)
        return json.dumps(result, cls=RuntimeEncoder), usage_seconds(shots)

    def public(self, job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        tags = set(query.get("tags", []))
        pending = (query.get("pending") or [None])[0]
        with self.guard:
            jobs = [j for j in self.jobs.values() if tags <= set(j["tags"])]
        if pending is not None:
            jobs = [j for j in jobs if (j["status"] not in FINAL) == (pending == "true")]
        if backend := (query.get("backend") or [None])[0]:
            jobs = [j for j in jobs if j["backend"] == backend]
        if program := (query.get("program") or [None])[0]:
            jobs = [j for j in jobs if j["program"]["id"] == program]
        jobs.sort(key=lambda j: j["created"], reverse=(query.get("sort") or ["DESC"])[0] != "ASC")
        offset = int((query.get("offset") or [0])[0])
        limit = int((query.get("limit") or [200])[0])
        return {"jobs": [self.public(j) for j in jobs[offset:offset + limit]], "count": len(jobs), "offset": offset, "limit": limit}

    def cancel(self, job_id: str) -> tuple[int, Any]:
        with self.guard:
            job = self.jobs[job_id]
            if job["status"] in FINAL:
                return 409, _error(3212, f"Job {job_id} is in a final state and cannot be cancelled.")
            self.cancels.append(job_id)
            self._set(job, "Cancelled", reason="Cancelled by the user.")
        return 204, None

    # -- what a job used, and closing sessions -----------------------------------
    def metrics(self, job: dict[str, Any]) -> dict[str, Any]:
        seconds = job["_usage"]
        usage = {"status": "pending"} if seconds is None else {"quantum_seconds": seconds, "seconds": seconds, "qpu_charge_time_seconds": seconds, "status": "completed"}
        return {"usage": usage, "timestamps": {"created": job["created"]}}

    def close_session(self, session_id: str) -> None:
        """``Session.cancel()``: closed, and its queued jobs cancelled."""
        for job_id in self.sessions.close(session_id):
            if self.jobs[job_id]["status"] not in FINAL:
                self.cancel(job_id)


def _error(code: int, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "more_info": "https://quantum.cloud.ibm.com/docs/errors"}], "trace": uuid.uuid4().hex}


def _handler(world: IbmQuantum) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def fault_body(self, status: int, message: str) -> tuple[Any, dict[str, str]]:
            return _error({429: 1429, 503: 1503}.get(status, 1500), message), {}

        def _route(self) -> tuple[str, dict[str, list[str]]]:
            url = urlparse(self.path)
            return unquote(url.path), parse_qs(url.query)

        def _authorized(self, runtime: bool) -> bool:
            header = self.headers.get("Authorization")
            # the SDK falls back to the API key itself when it cannot get a token, which the service accepts
            if not world.iam.valid(header) and header != f"apikey {API_KEY}":
                self._reply(401, _error(1101, "Invalid or expired IAM token."))
                return False
            if runtime and self.headers.get("Service-CRN") not in (CRN, OPEN_CRN):
                self._reply(403, _error(1102, "The Service-CRN header names no instance of this account."))
                return False
            return True

        def _missing(self, what: str) -> None:
            self._reply(404, _error(1404, f"{what} not found."))

        def do_GET(self) -> None:  # noqa: N802
            path, query = self._route()
            if path.startswith("/global-catalog/"):
                if not self._authorized(runtime=False):
                    return None
                entry = instances.catalog(path.removeprefix("/global-catalog/"))
                return self._reply(200, entry) if entry else self._missing(path)
            if not path.startswith(RUNTIME) or not self._authorized(runtime=True):
                return None if path.startswith(RUNTIME) else self._missing(path)
            path = path.removeprefix(RUNTIME)
            if path == "/backends":
                return self._reply(200, world.devices())
            if path == "/instances/usage":
                return self._reply(200, {"instance_id": CRN, "plan_id": PLAN_ID, "usage_consumed_seconds": 0, "usage_limit_reached": False})
            if match := BACKEND_PATH.match(path):
                backend = world.backends.get(match["name"])
                if backend is None:
                    return self._missing(f"Backend {match['name']}")
                what = match["what"]
                return self._reply(200, world.backend_status(match["name"]) if what == "status" else backend["conf" if what == "configuration" else "props"])
            if path == "/jobs":
                return self._reply(200, world.list(query))
            if (match := JOB_PATH.match(path)) and match["rest"] != "/cancel":
                job = world.jobs.get(match["id"])
                if job is None:
                    return self._missing(f"Job {match['id']}")
                if match["rest"] == "/results":
                    if job["_result"] is None:
                        return self._reply(404, _error(1404, f"Job {match['id']} has no results yet."))
                    return self._reply(200, job["_result"], content_type="text/plain")
                if match["rest"] == "/metrics":
                    return self._reply(200, world.metrics(job))
                return self._reply(200, world.public(job))
            if match := SESSION_PATH.match(path):
                session = world.sessions.details(match["id"])
                return self._reply(200, session) if session and not match["rest"] else self._missing(f"Session {match['id']}")
            self._missing(path)

        def _session_call(self) -> tuple[str, re.Match[str]] | None:
            """The session a PATCH or DELETE names (after the checks every runtime call has)."""
            path, _ = self._route()
            if not path.startswith(RUNTIME) or not self._authorized(runtime=True):
                return None if path.startswith(RUNTIME) else self._missing(path)
            match = SESSION_PATH.match(path.removeprefix(RUNTIME))
            if match is None or world.sessions.details(match["id"]) is None:
                return self._missing(path)
            return path, match

        def do_PATCH(self) -> None:  # noqa: N802
            body = self._body()
            if (call := self._session_call()) is None:
                return None
            if call[1]["rest"]:
                return self._missing(call[0])
            self._reply(*world.sessions.stop_accepting(call[1]["id"], json.loads(body or b"{}")))

        def do_DELETE(self) -> None:  # noqa: N802
            if (call := self._session_call()) is None:
                return None
            if call[1]["rest"] != "/close":
                return self._missing(call[0])
            world.close_session(call[1]["id"])
            self._reply(204)

        def do_POST(self) -> None:  # noqa: N802
            path, _ = self._route()
            body = self._body()
            if path == "/identity/token":
                return self._reply(*world.iam.exchange(body))
            if path == "/global-search/v3/resources/search":
                return self._reply(200, instances.search(world.backends)) if self._authorized(runtime=False) else None
            if not path.startswith(RUNTIME):
                return self._missing(path)
            if not self._authorized(runtime=True):
                return None
            path = path.removeprefix(RUNTIME)
            if path == "/sessions":
                open_plan = self.headers.get("Service-CRN") == OPEN_CRN
                return self._reply(*world.sessions.create(json.loads(body or b"{}"), open_plan, world.backends))
            if path == "/jobs":
                if self._fault == "server_error":  # before the work: the SDK retries such POSTs itself
                    return self._fault_reply()
                spec = json.loads(body or b"{}")
                return self._reply(*world.create(spec, body))
            if (match := JOB_PATH.match(path)) and match["rest"] == "/cancel":
                if match["id"] not in world.jobs:
                    return self._missing(f"Job {match['id']}")
                return self._reply(*world.cancel(match["id"]))
            self._missing(path)

    return Handler


def env(url: str, plan: str = "pay-as-you-go") -> dict[str, str]:
    """The provider variables that point ``ibm_quantum`` (and the SDK) at the stand-in at
    ``url``, on its Pay-As-You-Go instance, or with ``plan="open"`` its Open Plan one."""
    return {
        "QISKIT_IBM_CHANNEL": "ibm_quantum_platform",
        "QISKIT_IBM_TOKEN": API_KEY,
        "QISKIT_IBM_INSTANCE": OPEN_CRN if plan == "open" else CRN,
        "QISKIT_IBM_URL": url + RUNTIME,
        "IAM_URL": url,
        "GLOBAL_SEARCH_URL": url + "/global-search",
        "GLOBAL_CATALOG_URL": url + "/global-catalog",
    }


def start(port: int | None = None) -> tuple[ThreadingHTTPServer, IbmQuantum, str]:
    """Serve the stand-in on 127.0.0.1; the server, its state and its base URL (see :func:`env`)."""
    # Qiskit's first import must not happen on a thread that exits (docs/PROVIDERS.md): jobs
    # simulate on short-lived threads, so import it here, on the caller's thread.
    import qiskit.qasm2  # noqa: F401
    import qiskit_aer  # noqa: F401
    import qiskit_ibm_runtime  # noqa: F401

    world = IbmQuantum()
    server, url = serve(_handler(world), "ibm-quantum-offline", port, world=world)
    return server, world, url
