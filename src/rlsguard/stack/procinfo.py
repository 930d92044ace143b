"""What /proc says about a process: is it (still) the one we mean?

A pid alone is reused; pid plus start time names one process for good. Kept
apart from the reaper so that modules it uses (``ipc``) can ask too.
"""

from __future__ import annotations


def process_start_time(pid: int) -> int | None:
    """Start time in clock ticks since boot: with the pid it names one process for good."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19])


def process_alive(pid: int, start_time: int | None = None) -> bool:
    current = process_start_time(pid)
    if current is None:
        return False
    if _is_zombie(pid):
        return False
    return start_time is None or current == start_time


def process_state(pid: int) -> str | None:
    """The one-letter state from /proc (R, S, T, Z, ...), None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()[0]


def _is_zombie(pid: int) -> bool:
    return process_state(pid) == "Z"
