"""Run a command and write its peak RSS in kB and its seconds from start to exit to a file (`KB SECONDS`):
`python -m bench.peak_rss OUT CMD...`.

Linux starts a child's peak-RSS count from the process it was forked from (under vfork, from that
process's own peak), so the large benchmark process cannot measure its children directly: this
small launcher forks them instead, and its own few MB are the floor. The seconds leave out the
launcher's own start-up (a start-up table would count it otherwise).
"""

import os
import subprocess
import sys
import time


def main() -> None:
    out, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    with open(out, "w") as f:
        f.write(f"{usage.ru_maxrss} {seconds:.4f}")
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
