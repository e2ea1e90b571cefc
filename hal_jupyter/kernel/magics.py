"""``%hal`` and ``%%hal``: submit a cell of OpenQASM or Python, look after jobs.

Every subcommand has its own argument parser with help text; ``%hal?`` shows
them all. Wrong use raises ``UsageError``: IPython shows one line, no traceback.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.display import HTML, display

from ..engine import errors
from ..engine.lifecycle import JobStatus
from . import client as client_module
from . import display as html
from .client import Hal, Job, JobFailed

#: what ``%hal jobs --status`` takes
STATUSES = [s.value for s in JobStatus]


def _parser(prog: str, description: str) -> MagicArgumentParser:
    return MagicArgumentParser(prog=prog, description=description, add_help=False)


def _common(parser: MagicArgumentParser) -> None:
    parser.add_argument("--priority", choices=["high", "standard"], default="standard", help="high: sent at once, alone; standard: batched")
    parser.add_argument("--name", help="a name for the job")
    parser.add_argument("--wait", action="store_true", help="block until the job ends and show its result")
    parser.add_argument("--out", metavar="VAR", help="bind the job handle (with --wait: the result) to VAR")


def _quantum_options(parser: MagicArgumentParser) -> None:
    parser.add_argument("--provider", default="local_simulator", help="provider name (%%hal providers lists them)")
    parser.add_argument("--backend", help="backend of the provider (default: the provider's own)")
    parser.add_argument("--shots", type=int, default=1024, help="number of shots, a positive integer")
    parser.add_argument("--tag", action="append", default=[], metavar="T", help="a tag (repeatable)")
    parser.add_argument(
        "--parameters", metavar="JSON|$var",
        help='sweep the circuit\'s free parameters: a JSON object of name -> values ({"theta": [0, 1.57]}), '
        "or $name of a dict in the namespace (keys may be Parameters, values numpy arrays)",
    )
    parser.add_argument(
        "--observables", metavar="JSON|$var",
        help='estimate these observables instead of sampling: JSON (["ZZ"], [{"ZZ": 1.0, "XI": -0.5}], '
        '[[["Z", [0], 1.0]]]) or $name of a variable (a SparsePauliOp, a Braket observable, a list of them)',
    )
    parser.add_argument("--precision", type=float, metavar="E", help="target standard error of each expectation value (with --observables)")
    parser.add_argument(
        "--execution", metavar="JSON|$var",
        help='how the provider runs it: {"mode": "batch"|"session"|"job", "session": "name", "reservation_arn": "arn:..."} '
        "or $name of a dict (ibm_quantum, aws_braket, azure_quantum)",
    )
    parser.add_argument("--dry-run", action="store_true", help="submit nothing: show what it would cost and what the budgets would do")
    _common(parser)


QUANTUM = _parser(
    "%%hal quantum", "Submit the cell, an OpenQASM 2 or 3 program (in OpenQASM 3, `input float[64] theta;` declares a parameter to sweep)."
)
_quantum_options(QUANTUM)
CLASSICAL = _parser("%%hal classical", "Submit the cell, Python source defining the entrypoint.")
CLASSICAL.add_argument("--provider", default="local_python", help="provider name")
CLASSICAL.add_argument("--function", metavar="NAME", help="call this function already deployed on the provider instead of the cell")
CLASSICAL.add_argument("--entrypoint", default="main", help="the function of the cell to call (default: main)")
CLASSICAL.add_argument("--args", default="{}", metavar="JSON|$var", help="keyword arguments: a JSON object, or $name of a dict in the namespace")
CLASSICAL.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds before the job is stopped")
CLASSICAL.add_argument("--tag", action="append", default=[], metavar="T", help="a tag (repeatable)")
_common(CLASSICAL)
SUBMIT = _parser("%hal submit", "Submit VAR: a Qiskit QuantumCircuit, a Braket Circuit or OpenQASM text.")
SUBMIT.add_argument("var", help="name of the variable")
_quantum_options(SUBMIT)
JOBS = _parser("%hal jobs", "List jobs, newest first.")
JOBS.add_argument("--status", help="only jobs in this status")
JOBS.add_argument("--limit", type=int, default=20, help="how many (default 20)")
BACKENDS = _parser("%hal backends", "List a provider's backends.")
BACKENDS.add_argument("provider")
MONITOR = _parser("%hal monitor", "A live monitor of these jobs (default: unfinished and recent ones).")
MONITOR.add_argument("ids", nargs="*", metavar="ID")
STATUS = _parser("%hal status", "Show jobs' status (one request for all of them).")
STATUS.add_argument("ids", nargs="+", metavar="ID")
RESULT = _parser("%hal result", "Show jobs' results (one request for all of them).")
RESULT.add_argument("ids", nargs="+", metavar="ID")
CANCEL = _parser("%hal cancel", "Cancel a job.")
CANCEL.add_argument("id", metavar="ID")
PROVIDERS = _parser("%hal providers", "List providers and their availability.")
BUDGETS = _parser("%hal budgets", "List the budgets that apply to you, with what is spent, reserved and left this period.")
SPEND = _parser("%hal spend", "What jobs were estimated, reserve and actually cost, grouped.")
SPEND.add_argument("--group-by", choices=["owner", "provider", "tag", "day"], default="provider", help="one row per ... (default: provider)")
SPEND.add_argument("--since", metavar="ISO", help="only jobs made at or after this time (2026-12-01 or 2026-12-01T00:00:00Z)")
SPEND.add_argument("--until", metavar="ISO", help="only jobs made before this time")

CELL_PARSERS = {"quantum": QUANTUM, "classical": CLASSICAL}
LINE_PARSERS = {
    "submit": SUBMIT, "providers": PROVIDERS, "backends": BACKENDS, "jobs": JOBS, "monitor": MONITOR,
    "status": STATUS, "result": RESULT, "cancel": CANCEL, "budgets": BUDGETS, "spend": SPEND,
}


def _usage() -> str:
    parts = [
        "Run quantum and classical jobs on any provider (hal_jupyter).\n",
        *(p.format_help() for p in (*CELL_PARSERS.values(), *LINE_PARSERS.values())),
    ]
    return "\n".join(parts)


@magics_class
class HalMagics(Magics):
    _hal: Hal | None = None

    @property
    def client(self) -> Hal:
        """One client per kernel: the last ``Hal`` made in this kernel, else one
        made on first use (finding the server takes a moment)."""
        HalMagics._hal = client_module.current()
        return HalMagics._hal

    @no_var_expand  # `--args $var` names a variable; JSON braces stay as written
    @line_cell_magic
    def hal(self, line: str, cell: str | None = None) -> Any:  # noqa: D401 - the docstring is the usage, set below
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%hal: {exc}") from None
        if not words:
            raise UsageError("%hal needs a subcommand: " + ", ".join([*CELL_PARSERS, *LINE_PARSERS]) + " (see %hal?)")
        command, rest = words[0], words[1:]
        parsers = CELL_PARSERS if cell is not None else LINE_PARSERS
        if command not in parsers:
            where = "%%hal" if cell is not None else "%hal"
            hint = " (a cell magic: use %%hal)" if command in CELL_PARSERS else ""
            raise UsageError(f"{where}: unknown subcommand {command!r}{hint}; see %hal?")
        args = parsers[command].parse_args(rest)
        try:
            return getattr(self, f"_{command}")(args, cell)
        except errors.HalError as exc:
            raise UsageError(exc.message) from None
        except TimeoutError as exc:
            raise UsageError(str(exc)) from None

    # -- cells -------------------------------------------------------------------
    def _quantum(self, args: Any, cell: str | None) -> Any:
        if not cell or not cell.strip():
            raise UsageError("the cell is empty: write an OpenQASM 2 or 3 program below %%hal quantum")
        return self._submit_quantum(cell, args)

    def _classical(self, args: Any, cell: str | None) -> Any:
        if args.function is None and (not cell or not cell.strip()):
            raise UsageError("the cell is empty: write Python defining main(...) below %%hal classical, or give --function")
        job = self.client.submit_classical(
            None if args.function else cell,
            args=self._arguments(args.args),
            provider=args.provider,
            function=args.function,
            entrypoint=args.entrypoint,
            timeout_s=args.timeout,
            priority=args.priority,
            name=args.name,
            tags=args.tag or None,
        )
        return self._finish(job, args)

    def _submit(self, args: Any, cell: str | None) -> Any:
        if args.var not in self.shell.user_ns:
            raise UsageError(f"no variable named {args.var!r} in the notebook")
        return self._submit_quantum(self.shell.user_ns[args.var], args)

    def _submit_quantum(self, circuit: Any, args: Any) -> Any:
        if args.shots < 1:
            raise UsageError(f"--shots must be a positive integer, not {args.shots}")
        parameters = None if args.parameters is None else self._value("--parameters", args.parameters)
        if parameters is not None and not isinstance(parameters, dict):
            raise UsageError('--parameters must be a JSON object of name -> values, e.g. {"theta": [0, 1.57]} (or a dict variable)')
        execution = None if args.execution is None else self._value("--execution", args.execution)
        if execution is not None and not isinstance(execution, dict):
            raise UsageError('--execution must be a JSON object, e.g. {"mode": "session", "session": "s1"} (or a dict variable)')
        options: dict[str, Any] = {
            "provider": args.provider, "shots": args.shots, "backend": args.backend, "parameters": parameters,
            "observables": None if args.observables is None else self._value("--observables", args.observables),
            "precision": args.precision, "priority": args.priority, "name": args.name, "tags": args.tag or None, "execution": execution,
        }
        if args.dry_run:  # the same request, priced and judged; nothing is submitted
            estimate = self.client.estimate(circuit, **options)
            if args.out:
                self.shell.user_ns[args.out] = estimate
            display(estimate)
            return None
        return self._finish(self.client.submit_quantum(circuit, **options), args)

    def _arguments(self, text: str) -> dict[str, Any]:
        value = self._value("--args", text)
        if not isinstance(value, dict):
            raise UsageError("--args must be a JSON object (or a dict variable) of keyword arguments")
        return value

    def _value(self, option: str, text: str) -> Any:
        """An option's value: ``$name`` of a variable in the notebook, else JSON."""
        if text.startswith("$"):
            name = text[1:]
            if name not in self.shell.user_ns:
                raise UsageError(f"{option} {text}: no variable named {name!r}")
            return self.shell.user_ns[name]
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{option} is not valid JSON: {exc} (write it in single quotes, or give $name of a variable)") from None

    def _finish(self, job: Job, args: Any) -> Any:
        if not args.wait:
            if args.out:
                self.shell.user_ns[args.out] = job
            display(job.monitor())
            return None
        if job.record.get("status") == "HELD":  # waits for the budget to make room (or an interrupt)
            print(f"{job.id} is HELD: {job.record.get('status_message')}; waiting until it is released")
        try:
            result = job.result()
        except KeyboardInterrupt:
            raise UsageError(f"stopped waiting; job {job.id} goes on (%hal status {job.id})") from None
        except JobFailed as exc:
            error = job.record.get("error")
            if error:
                display(HTML(html.error_block(error)))
            raise UsageError(exc.message) from None
        if args.out:
            self.shell.user_ns[args.out] = result
        display(result)
        return None

    # -- lines -------------------------------------------------------------------
    def _providers(self, args: Any, cell: str | None) -> None:
        display(HTML(html.table(self.client.providers(), ["name", "kind", "available", "reason", "description"])))

    def _backends(self, args: Any, cell: str | None) -> None:
        display(HTML(html.table(self.client.backends(args.provider), ["name", "num_qubits", "status", "queue_depth", "simulator"])))

    def _jobs(self, args: Any, cell: str | None) -> None:
        if args.status and args.status.upper() not in STATUSES:
            raise UsageError(f"--status must be one of {', '.join(STATUSES)}")
        jobs = self.client.jobs(status=args.status.upper() if args.status else None, limit=args.limit)
        columns = ["id", "name", "kind", "provider", "backend", "status", "batch_id", "created_at"]
        display(HTML(html.table([j.record for j in jobs], columns) if jobs else "<i>no jobs</i>"))

    def _records(self, ids: list[str], include_result: bool = False) -> list[dict[str, Any]]:
        """The records of these jobs in one request per 500; ``UsageError`` naming an unknown id."""
        records = self.client.records(ids, include_result=include_result)
        found = {r["id"] for r in records}
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise UsageError(f"no job with id {unknown[0]!r}" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
        return records

    def _monitor(self, args: Any, cell: str | None) -> None:
        jobs = [Job(self.client, r) for r in self._records(args.ids)] if args.ids else None
        display(self.client.monitor(jobs))

    def _status(self, args: Any, cell: str | None) -> None:
        for record in self._records(args.ids):
            message = f" - {record['status_message']}" if record.get("status_message") else ""
            error = f" - {errors.error_line(record['error'])}" if record.get("error") else ""
            print(f"{record['id']}: {record['status']}{message}{error}")

    def _result(self, args: Any, cell: str | None) -> None:
        """Each COMPLETED job's result, in the order given; then a ``UsageError`` naming the others."""
        records = self._records(args.ids, include_result=True)
        for record in records:
            if record["status"] == "COMPLETED":
                display(self.client.result_of(record))
        others = [f"job {r['id']} is {r['status']}" for r in records if r["status"] != "COMPLETED"]
        if others:
            raise UsageError(f"{others[0]}, not COMPLETED" if len(others) == 1 else f"{len(others)} jobs are not COMPLETED: {'; '.join(others[:3])}")

    def _cancel(self, args: Any, cell: str | None) -> None:
        record = self.client.job(args.id).cancel().record
        print(f"{record['id']}: {record['status']}")

    def _budgets(self, args: Any, cell: str | None) -> None:
        display(HTML(html.budgets_table(self.client.budgets())))

    def _spend(self, args: Any, cell: str | None) -> None:
        display(HTML(html.spend_table(self.client.spend(args.group_by, args.since, args.until))))


HalMagics.hal.__doc__ = _usage()
