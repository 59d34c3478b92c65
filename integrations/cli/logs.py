"""Logging of the long-running commands (`serve`, `slack`): one line per record on stderr.

Records of the `billing_assistant` loggers carry a request id where there is one (the web app and the
Slack handlers pass it as ``extra``); the line shows ``-`` where there is none. What is logged never holds
message text or patient fields (see `integrations/web/app.py`); this only decides where it goes.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class _RequestIdDefault(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return True


def configure_logging(level: str) -> logging.Handler:
    """Send the assistant's records at ``level`` and above to stderr (once per process); returns the handler."""
    logger = logging.getLogger("billing_assistant")
    for handler in logger.handlers:
        if getattr(handler, "billing_assistant", False):
            logger.setLevel(level)
            return handler
    handler = logging.StreamHandler()
    handler.billing_assistant = True  # type: ignore[attr-defined]
    handler.addFilter(_RequestIdDefault())
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler
