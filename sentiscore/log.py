"""Events of a long job, for a person (one readable line) or a log collector (one JSON object per line)."""

from __future__ import annotations

import json
import sys
import time

_format = "human"


def configure(fmt: str) -> None:
    global _format
    _format = fmt


def is_json() -> bool:
    return _format == "json"


def event(name: str, **fields: object) -> None:
    """Write one event to stderr: `sentiscore: NAME key=value ...` or a JSON object."""
    if _format == "json":
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "event": name, **fields}
        print(json.dumps(record, default=str), file=sys.stderr, flush=True)
    else:
        details = " ".join(f"{k}={v}" for k, v in fields.items())
        print(f"sentiscore: {name} {details}".rstrip(), file=sys.stderr, flush=True)
