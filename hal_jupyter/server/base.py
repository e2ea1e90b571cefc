"""What every hal_jupyter handler shares: authentication, JSON in and out, and the
error tree as HTTP answers, in one place (:class:`DomainErrors`). The URL tables
are beside the handlers (``default_handlers`` in :mod:`.handlers`, :mod:`.events`
and :mod:`.apidocs`, as jupyter_server's ``services/*/handlers.py`` do); the
app puts them together."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..engine import errors
from ..engine.errors import ErrorType
from ..engine.limits import TOO_DEEP

if TYPE_CHECKING:  # the engine loads once the server serves (app.py), not with the handlers
    from ..engine.engine import Engine, Viewer

AUTH_RESOURCE = "hal"
PREFIX = r"/hal/api"
#: ``type`` of the errors Tornado and Jupyter raise themselves (a HalError brings its own).
ERROR_TYPES = {
    400: ErrorType.INVALID_REQUEST, 403: ErrorType.FORBIDDEN, 404: ErrorType.NOT_FOUND,
    405: ErrorType.METHOD_NOT_ALLOWED, 413: ErrorType.PAYLOAD_TOO_LARGE,
}


class DomainErrors(web.RequestHandler):
    """The error tree as HTTP answers, once for every handler: a :class:`~hal_jupyter.engine.errors.HalError`
    is answered with its status and its ``{type, message}`` JSON."""

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, errors.HalError):
            if not self._finished:
                self.set_status(e.http_status)
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps(e.to_dict()))
            return
        super()._handle_request_exception(e)


class HalHandler(DomainErrors, ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def engine(self) -> Engine:
        return self.settings["hal_engine"]

    @property
    def viewer(self) -> Viewer:
        """The user this request acts for, and whether they see every user's jobs."""
        return self.settings["hal_viewer"](self)

    def json_body(self) -> Any:
        body = self.request.body or b""
        if len(body) > self.settings["hal_max_request_bytes"]:
            raise errors.PayloadTooLarge(
                f"the request body is {len(body)} bytes; the limit is {self.settings['hal_max_request_bytes']}"
            )
        try:
            return json.loads(body or b"null")
        except RecursionError:
            raise errors.InvalidRequest(TOO_DEEP) from None
        except ValueError as exc:
            raise errors.InvalidRequest(f"the request body is not valid JSON: {exc}") from None

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every other error as ``{type, message}`` JSON, never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message and status_code < 500:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code < 500:
            message = self._reason
        else:
            message = "internal error in hal_jupyter; the server log has the details"
        kind = ERROR_TYPES.get(status_code, ErrorType.HTTP_ERROR)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"type": kind.value, "message": message}))
