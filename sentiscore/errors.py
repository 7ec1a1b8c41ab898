"""The failures the CLI turns into exit codes: bad input or output (2) and a failed check (1)."""


class BadInput(Exception):
    """Bad input or usage: the CLI prints the message as one line and exits 2."""

    exit_code = 2


class CheckFailed(Exception):
    """A check (parity, metrics) failed: the CLI prints the message and exits 1."""

    exit_code = 1


class OutputError(Exception):
    """The output could not be written (disk full, read-only folder): exit 2, the job kept for --resume."""

    exit_code = 2
