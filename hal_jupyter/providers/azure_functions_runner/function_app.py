"""The HAL runner: an Azure Functions app (Python v2 model) that runs a cell's code.

Azure Functions cannot take code through its HTTP API, so hal_jupyter's code mode
on ``azure_functions`` calls this one function, deployed once by whoever owns the
function app (``python -m hal_jupyter.providers.azure_functions write-runner DIR``,
then ``func azure functionapp publish <app>``). A request carries the code, a
timeout and the tasks; ``hal_handler`` (hal_jupyter's user-code runner, written
beside this file) runs them in a child process, so a task past its timeout is
stopped and answered with 504, and each task's value, output or exception comes
back on its own.
"""

import json
import os
import tempfile

import azure.functions as func

from hal_handler import call_in_child

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
HERE = os.path.dirname(os.path.abspath(__file__))


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
        spec = {"package": folder, "module": os.path.join(HERE, "hal_handler.py"), "function": "handler", "event": {"tasks": tasks}}
        outcome, _, _ = call_in_child(spec, timeout, cwd=folder)
    if outcome is None:
        return _answer(504, {"error": f"the code ran past its maximum execution time of {timeout:g} s"})
    if not outcome["ok"]:
        return _answer(500, {"error": f"the code's process ended without an answer: {outcome['message']}"})
    return _answer(200, outcome["value"])
