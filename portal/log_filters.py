"""Logging filters for the server log (settings.LOGGING)."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx is the client's mistake or a refusal, not a fault: one warning line, no traceback.

    Django logs a PermissionDenied (403) with the exception attached, which prints a traceback per refusal.
    The line keeps what the traceback said: who was refused, and why.
    """

    def filter(self, record):
        status = getattr(record, "status_code", None)
        if status is not None and 400 <= status < 500 and record.exc_info:
            exception = record.exc_info[1]
            request = getattr(record, "request", None)
            user = getattr(getattr(request, "user", None), "username", "") or "anonymous"
            reason = f": {exception}" if str(exception) else ""
            record.msg = f"{record.getMessage()} (user {user}){reason}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
