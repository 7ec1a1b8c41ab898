"""The two failures the CLI turns into exit codes: bad input (2) and a failed check (1)."""


class BadInput(Exception):
    """Bad input or usage: the CLI prints the message as one line and exits 2."""

    exit_code = 2


class CheckFailed(Exception):
    """A check (parity, metrics) failed: the CLI prints the message and exits 1."""

    exit_code = 1
