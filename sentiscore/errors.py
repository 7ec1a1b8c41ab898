"""The failures the CLI turns into exit codes an operator (or an orchestrator) can act on.

0 done; 1 a check failed; 2 bad input or usage (permanent: do not retry); 75 (EX_TEMPFAIL) a
transient failure (disk full, I/O error, an unreachable cluster, a file still being written: retry,
committed work is kept); 130/143 stopped by Ctrl-C/SIGTERM (the job is consistent: resume it).
"""

from __future__ import annotations

import errno

# errors that may pass by themselves: the same command later can succeed
TRANSIENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.ESTALE, errno.ETIMEDOUT,
                    errno.EBUSY, errno.ENOMEM, errno.ECONNRESET, errno.ECONNREFUSED, errno.EHOSTUNREACH}
EX_TEMPFAIL = 75


class BadInput(Exception):
    """Bad input or usage: the CLI prints the message as one line and exits 2."""

    exit_code = 2


class CheckFailed(Exception):
    """A check (parity, metrics, the model a worker loaded) failed: one line, exit 1."""

    exit_code = 1


class OutputError(Exception):
    """The output cannot be written for a reason retrying will not fix (read-only folder): exit 2."""

    exit_code = 2


class Transient(Exception):
    """A failure that may pass (disk full, I/O error, unreachable cluster): exit 75, work kept, retry."""

    exit_code = EX_TEMPFAIL


class Stopped(Exception):
    """The job was stopped by a signal and left consistent: exit 130 (SIGINT) or 143 (SIGTERM)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Interrupted(BaseException):
    """Raised by the SIGTERM handler (with 128 + the signal), like KeyboardInterrupt for SIGINT: no
    `except Exception` stops it."""


def interrupt_code(exc: BaseException) -> int:
    """The exit status of a stop: 130 for Ctrl-C, 128 + the signal for Interrupted (143 for SIGTERM)."""
    return exc.args[0] if isinstance(exc, Interrupted) else 130


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (libraries raise many-line ones), else its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


ERRORS = (BadInput, CheckFailed, OutputError, Transient, Stopped)


def is_transient(exc: OSError) -> bool:
    return exc.errno in TRANSIENT_ERRNOS


def io_failure(where: str, exc: OSError, permanent: type[Exception] = OutputError,
               retry_hint: str = "retry") -> Exception:
    """One line for an OSError at WHERE: Transient (exit 75) where the same command may succeed later,
    else PERMANENT (exit 2)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if is_transient(exc):
        return Transient(f"{where}: {reason}; {retry_hint}")
    return permanent(f"{where}: {reason}")
