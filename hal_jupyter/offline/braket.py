"""A local Amazon Braket API behind the real ``AwsDevice`` / ``AwsQuantumTask``.

``GetDevice``, ``SearchDevices``, ``CreateQuantumTask`` (deduplicated by
``clientToken``, as Braket does), ``GetQuantumTask`` and ``CancelQuantumTask``;
tasks run on Braket's real LocalSimulator (SV1 on ``braket_sv``, with program
sets; DM1 on ``braket_dm``, declared without them) and their results go to S3
(moto), where the SDK reads them. Creates are counted. ``hold`` keeps tasks
QUEUED until released; ``fail_next`` fails the next task with that reason.

As Braket does, a task keeps the ``associations`` its create carried (a
reservation: ``RESERVATION_TIME_WINDOW_ARN``, which the SDK sends for
``reservation_arn=``) and returns them on ``GetQuantumTask``; ``GET
/__offline__/stats`` lists them per task. Like SV1 and DM1, the results say how
long the simulation ran (``additionalMetadata.simulatorMetadata.executionDuration``,
in ms; for a program set, per program), which is what Braket bills simulators
for; ``execution_ms`` makes every task report that time instead of the measured one.
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
from .http import JsonHandler, World, serve

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
ACCOUNT = "123456789012"
DEVICE = re.compile(r"^/device/(?P<arn>.+)$")
TASK = re.compile(r"^/quantum-task/(?P<arn>.+?)(?P<cancel>/cancel)?$")


def _capabilities(local_name: str, program_sets: bool) -> str:
    from braket.devices import LocalSimulator

    capabilities = json.loads(LocalSimulator(local_name).properties.json())
    if not program_sets:
        capabilities["action"].pop("braket.ir.openqasm.program_set", None)
    return json.dumps(capabilities)


class Braket(World):
    service = "Amazon Braket"

    def __init__(self, s3_endpoint: str, region: str = "us-east-1") -> None:
        super().__init__()
        self.s3_endpoint = s3_endpoint
        self.region = region
        self.devices = {
            SV1: {"name": "SV1", "local": "braket_sv", "capabilities": _capabilities("braket_sv", True)},
            DM1: {"name": "DM1", "local": "braket_dm", "capabilities": _capabilities("braket_dm", False)},
        }
        self.tasks: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.hold = threading.Event()
        self.hold.set()  # set: tasks run; clear(): they stay QUEUED until set() again
        self.fail_next: str | None = None
        #: the execution time every task reports, in ms (None: the time its simulation took)
        self.execution_ms: float | None = None
        # One simulation at a time, as the provider's own LocalSimulator runs do: Braket's
        # numba-parallel simulators abort the process when two threads enter them at once.
        self.simulating = threading.Lock()

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        with self.guard:
            if spec["clientToken"] in self.tokens:  # the same request again: the same task, no new bill
                return {"quantumTaskArn": self.tokens[spec["clientToken"]]}
            task_id = str(uuid.uuid4())
            arn = f"arn:aws:braket:{self.region}:{ACCOUNT}:quantum-task/{task_id}"
            fail, self.fail_next = self.fail_next, None
            action = json.loads(spec["action"])
            count = len(action.get("programs", [])) or 1
            metadata = {"actionType": action["braketSchemaHeader"]["name"], "programCount": count, "executableCount": count}
            self.tasks[arn] = {
                "quantumTaskArn": arn, "status": "QUEUED", "deviceArn": spec["deviceArn"], "shots": spec["shots"],
                "outputS3Bucket": spec["outputS3Bucket"], "outputS3Directory": f"{spec['outputS3KeyPrefix']}/{task_id}",
                "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "tags": spec.get("tags") or {},
                "actionMetadata": metadata, "associations": spec.get("associations") or [], "_action": spec["action"], "_fail": fail,
            }
            self.tokens[spec["clientToken"]] = arn
            self.creates.append(arn)
        threading.Thread(target=self._run, args=(arn,), name="braket-task", daemon=True).start()
        return {"quantumTaskArn": arn}

    def _run(self, arn: str) -> None:
        self.hold.wait(timeout=600)
        task = self.tasks[arn]
        with self.guard:
            if task["status"] != "QUEUED":
                return
            task["status"] = "RUNNING"
        try:
            if task["_fail"]:
                raise RuntimeError(task["_fail"])
            with self.simulating:
                body = self._simulate(task)
            import boto3

            s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name=self.region, aws_access_key_id=credentials.AWS_ACCESS_KEY_ID, aws_secret_access_key=credentials.AWS_SECRET_ACCESS_KEY)
            s3.put_object(Bucket=task["outputS3Bucket"], Key=f"{task['outputS3Directory']}/results.json", Body=body.encode())
            outcome = {"status": "COMPLETED"}
        except Exception as exc:  # noqa: BLE001 - the task fails with the reason, as Braket reports it
            outcome = {"status": "FAILED", "failureReason": str(exc)}
        with self.guard:
            if task["status"] == "RUNNING":
                task.update(outcome, endedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ"))

    def _simulate(self, task: dict[str, Any]) -> str:
        from braket.devices import LocalSimulator
        from braket.schema_common import BraketSchemaBase

        program = BraketSchemaBase.parse_raw_schema(task["_action"])
        began = time.monotonic()
        result = LocalSimulator(self.devices[task["deviceArn"]]["local"])._delegate.run(program, shots=task["shots"])
        _report_duration(result, self.execution_ms if self.execution_ms is not None else (time.monotonic() - began) * 1000)
        metadata = getattr(result, "taskMetadata", None)
        if metadata is not None:
            metadata.id = task["quantumTaskArn"]
            metadata.deviceId = task["deviceArn"]
        return result.json()

    def stats(self) -> dict[str, Any]:
        """The counters, and each task's associations (the reservation its create carried)."""
        with self.guard:
            associations = {arn: list(task["associations"]) for arn, task in self.tasks.items()}
        return {**super().stats(), "associations": associations}

    def get(self, arn: str, queue_info: bool) -> dict[str, Any] | None:
        task = self.tasks.get(arn)
        if task is None:
            return None
        public = {k: v for k, v in task.items() if not k.startswith("_")}
        if queue_info and task["status"] == "QUEUED":
            public["queueInfo"] = {"queue": "QUANTUM_TASKS_QUEUE", "position": "1", "queuePriority": "Normal"}
        return public

    def cancel(self, arn: str) -> dict[str, Any] | None:
        with self.guard:
            task = self.tasks.get(arn)
            if task is None:
                return None
            self.cancels.append(arn)
            if task["status"] in ("QUEUED", "RUNNING", "CREATED"):
                task["status"] = "CANCELLED"
        return {"quantumTaskArn": arn, "cancellationStatus": "CANCELLING"}

    def device(self, arn: str) -> dict[str, Any] | None:
        device = self.devices.get(arn)
        if device is None:
            return None
        queue = [
            {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": str(sum(t["status"] == "QUEUED" for t in self.tasks.values())), "queuePriority": "Normal"},
            {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Priority"},
            {"queue": "JOBS_QUEUE", "queueSize": "0"},
        ]
        return {
            "deviceArn": arn, "deviceName": device["name"], "providerName": "Amazon Braket", "deviceType": "SIMULATOR",
            "deviceStatus": "ONLINE", "deviceCapabilities": device["capabilities"], "deviceQueueInfo": queue,
        }


def _report_duration(result: Any, ms: float) -> None:
    """Put the execution time in the results as SV1 and DM1 do: a task of one program in its
    ``additionalMetadata``, a program set's in each program's, shared by their executables."""
    from braket.task_result import AdditionalMetadata, SimulatorMetadata

    programs = getattr(result, "programResults", None)
    if programs is None:
        programs, counts = [result], [1]
    else:
        counts = [len(program.executableResults) for program in programs]
    total = sum(counts) or 1
    for program, count in zip(programs, counts):
        share = SimulatorMetadata(executionDuration=round(ms * count / total))
        if program.additionalMetadata is None:
            program.additionalMetadata = AdditionalMetadata(simulatorMetadata=share)
        else:
            program.additionalMetadata.simulatorMetadata = share


def _handler(world: Braket) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def fault_body(self, status: int, message: str) -> tuple[Any, dict[str, str]]:
            kind = {429: "ThrottlingException", 503: "ServiceUnavailableException"}.get(status, "InternalServiceException")
            return {"__type": kind, "message": message}, {"x-amzn-ErrorType": kind}

        def _error(self, status: int, kind: str, message: str) -> None:
            self._reply(status, {"__type": kind, "message": message}, headers={"x-amzn-ErrorType": kind})

        def _missing(self, what: str) -> None:
            self._error(404, "ResourceNotFoundException", f"{what} not found")

        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            path = unquote(url.path)
            if match := DEVICE.match(path):
                device = world.device(match["arn"])
                return self._reply(200, device) if device else self._missing(f"device {match['arn']}")
            if (match := TASK.match(path)) and not match["cancel"]:
                wanted = parse_qs(url.query).get("additionalAttributeNames", [])
                task = world.get(match["arn"], "QueueInfo" in wanted)
                return self._reply(200, task) if task else self._missing(f"quantum task {match['arn']}")
            self._missing(path)

        def do_POST(self) -> None:  # noqa: N802
            path = unquote(urlparse(self.path).path)
            body = json.loads(self._body() or b"{}")
            if path == "/quantum-task":
                if body.get("deviceArn") not in world.devices:
                    return self._error(400, "ValidationException", f"device {body.get('deviceArn')} does not exist")
                return self._reply(201, world.create(body))
            if path == "/devices":
                devices = [{k: world.device(arn)[k] for k in ("deviceArn", "deviceName", "providerName", "deviceType", "deviceStatus")} for arn in world.devices]
                return self._reply(200, {"devices": devices})
            self._missing(path)

        def do_PUT(self) -> None:  # noqa: N802
            path = unquote(urlparse(self.path).path)
            self._body()
            if (match := TASK.match(path)) and match["cancel"]:
                answer = world.cancel(match["arn"])
                return self._reply(200, answer) if answer else self._missing(f"quantum task {match['arn']}")
            self._missing(path)

    return Handler


def start(s3_endpoint: str) -> tuple[ThreadingHTTPServer, Braket, str]:
    world = Braket(s3_endpoint)
    server, url = serve(_handler(world), "braket-offline", world=world)
    return server, world, url
