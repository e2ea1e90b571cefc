"""The HAL runner: an Azure Functions app (Python v2 model) that runs a cell's code.

Azure Functions cannot take code through its HTTP API, so hal_jupyter's code mode
on ``azure_functions`` calls this one function, deployed once by whoever owns the
function app (``python -m hal_jupyter.providers.azure_functions write-runner DIR``,
then ``func azure functionapp publish <app>``). A request carries the code, a
timeout and the tasks; the code runs in a child process with ``hal_handler``
(written beside this file), so a task past its timeout is stopped and answered
with 504, and each task's value, output or exception comes back on its own.
"""

import json
import os
import subprocess
import sys
import tempfile

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "\n__HAL_RESULTS__"
CHILD = (
    "import json, sys\n"
    "sys.path[:0] = sys.argv[1:3]\n"
    "from hal_handler import handler\n"
    "event = json.loads(sys.stdin.read())\n"
    f"sys.__stdout__.write({MARK!r} + json.dumps(handler(event)))\n"
)


def _answer(status, body):
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


@app.route(route="hal-runner", methods=["POST"])
def hal_runner(req: func.HttpRequest) -> func.HttpResponse:
    try:
        request = req.get_json()
        code, tasks = request["code"], request["tasks"]
        timeout = float(request.get("timeout_s", 60))
    except (ValueError, KeyError, TypeError):
        return _answer(400, {"error": "expected JSON with code, tasks and timeout_s"})
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "hal_user_code.py"), "w") as handle:
            handle.write(code)
        try:
            child = subprocess.run(
                [sys.executable, "-c", CHILD, folder, HERE],
                input=json.dumps({"tasks": tasks}), capture_output=True, text=True, timeout=timeout, cwd=folder,
            )
        except subprocess.TimeoutExpired:
            return _answer(504, {"error": f"the code ran past its maximum execution time of {timeout:g} s"})
    _, _, raw = child.stdout.rpartition(MARK)
    if not raw:
        return _answer(500, {"error": "the code's process ended without an answer: " + child.stderr[-1000:]})
    return _answer(200, json.loads(raw))
