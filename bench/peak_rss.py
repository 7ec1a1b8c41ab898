"""Run a command and write its peak RSS in kB to a file: `python -m bench.peak_rss OUT CMD...`.

Linux starts a child's peak-RSS count from the process it was forked from (under vfork, from that
process's own peak), so the large benchmark process cannot measure its children directly: this
small launcher forks them instead, and its own few MB are the floor.
"""

import os
import subprocess
import sys


def main() -> None:
    out, command = sys.argv[1], sys.argv[2:]
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    with open(out, "w") as f:
        f.write(str(usage.ru_maxrss))
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
