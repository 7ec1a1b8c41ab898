"""Logging on the standard library: one handler on the root logger for sentiscore and for every
library it calls (transformers, optimum, datasets, Ray, Python warnings).

Human lines by default; with `--log-format json`, one JSON object per line, errors included, so a
log collector never meets a line it cannot parse. Events are `event(name, **fields)`.
"""

from __future__ import annotations

import json
import logging
import sys
import time

LOGGER = logging.getLogger("sentiscore")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_format = "human"


class _Human(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        if record.name == LOGGER.name:
            details = " ".join(f"{k}={v}" for k, v in fields.items())
            return f"sentiscore: {record.getMessage()} {details}".rstrip()
        return f"{record.levelname.lower()} {record.name}: {record.getMessage()}"


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.created)),
                   "level": record.levelname.lower()}
        if record.name == LOGGER.name:
            payload["event"] = record.getMessage()
            payload.update(getattr(record, "fields", {}))
        else:  # a library's own record: say whose it is
            payload.update(event="library", logger=record.name, message=record.getMessage())
            payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "fields"})
        if record.exc_info:
            payload["traceback"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure(fmt: str = "human") -> None:
    """Install the one handler (stderr) and route Python warnings and library loggers through it."""
    global _format
    _format = fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _Human())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # libraries: warnings and errors only
    LOGGER.setLevel(logging.INFO)
    logging.captureWarnings(True)
    adopt_library_loggers()


def adopt_library_loggers() -> None:
    """Take over loggers that libraries gave a stderr handler of their own (transformers and
    datasets do when first imported): their records then go through the one handler. Stages call
    this after importing such a library."""
    streams = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger) or name.startswith(LOGGER.name):
            continue
        own = [h for h in logger.handlers if type(h) is logging.StreamHandler and h.stream in streams]
        for handler in own:
            logger.removeHandler(handler)
        if own or not logger.handlers:
            logger.propagate = True


def is_json() -> bool:
    return _format == "json"


def event(name: str, **fields: object) -> None:
    """One event: `sentiscore: NAME key=value ...`, or a JSON object with `event` = NAME."""
    LOGGER.info(name, extra={"fields": fields})


def warning(name: str, **fields: object) -> None:
    LOGGER.warning(name, extra={"fields": fields})


# every character str.splitlines() breaks at: a file or column name holding one must not split the line
_LINE_BREAKS = {c: repr(chr(c))[1:-1] for c in (0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029)}


def error(message: str, exit_code: int) -> None:
    """The one line a failed command ends with (line breaks inside names shown escaped)."""
    message = message.translate(_LINE_BREAKS)
    if is_json():
        LOGGER.error("error", extra={"fields": {"message": message, "exit_code": exit_code}})
    else:
        LOGGER.error(message)
